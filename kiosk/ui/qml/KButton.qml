import QtQuick

// A touch button: at least 15 mm both ways, words (not colour alone) say its state. A
// disabled button keeps full-contrast text on the panel colour, with a thin border.
Rectangle {
    id: root
    property string text
    property string accessibleName: text
    property bool primary: false
    property bool checked: false
    property bool checkable: false  // a toggle (a score, a choice, a setting)
    property int textSize: theme.body
    signal clicked

    implicitWidth: Math.max(theme.touch, label.implicitWidth + 2 * theme.gap)
    implicitHeight: Math.max(theme.touch, label.implicitHeight + theme.gap)
    radius: theme.gap / 2
    color: !enabled ? theme.panel : checked ? theme.selected : (primary ? theme.primary : theme.button)
    border.color: theme.border
    border.width: !enabled ? 1 : checked ? Math.max(3, theme.gap / 2) : 2

    Accessible.role: Accessible.Button
    Accessible.name: root.accessibleName
    Accessible.checkable: root.checkable || root.checked
    Accessible.checked: root.checked
    Accessible.onPressAction: if (root.enabled) root.clicked()

    KText {
        id: label
        anchors.centerIn: parent
        width: Math.min(implicitWidth, root.width - 2 * theme.gap)
        horizontalAlignment: Text.AlignHCenter
        text: (root.checked ? "✔ " : "") + root.text
        font.pixelSize: root.textSize
        font.bold: root.enabled && (root.primary || root.checked)
        color: !root.enabled ? theme.text : root.checked ? theme.selectedText : (root.primary ? theme.primaryText : theme.buttonText)
    }

    TapHandler {
        enabled: root.enabled
        onTapped: root.clicked()
    }
}
