import QtQuick

// A dimmed layer with one panel in the middle; it takes every touch while it shows.
Rectangle {
    id: root
    default property alias content: panel.data
    anchors.fill: parent
    color: "#b3000000"
    visible: false
    z: 10
    MouseArea { anchors.fill: parent; onPressed: vm.touch() }
    Rectangle {
        id: panel
        anchors.centerIn: parent
        width: Math.min(parent.width - 4 * theme.gap, theme.body * 28)
        height: Math.min(parent.height - 4 * theme.gap, childrenRect.height + 4 * theme.gap)
        color: theme.background
        border.color: theme.border
        border.width: 3
        radius: theme.gap
    }
}
