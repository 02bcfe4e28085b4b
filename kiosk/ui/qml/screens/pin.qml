import QtQuick
import ".."

// The PIN pad: large keys, the digits never shown, tries left after a mistake. The words
// sit beside the keys, so the pad fits the screen at every text size.
Item {
    id: root
    readonly property real keyHeight: Math.max(theme.touch, Math.min(theme.touch * 1.3, (height - 3 * theme.gap) / 4))
    readonly property real keyWidth: Math.max(theme.touch * 1.5, theme.title * 2.2)

    Column {
        id: words
        anchors { left: parent.left; verticalCenter: parent.verticalCenter }
        width: parent.width - pad.width - theme.gap * 4
        spacing: theme.gap * 2

        KText {
            objectName: "headline"
            width: parent.width
            font.pixelSize: theme.title
            font.bold: true
            text: qsTr("Please enter your PIN")
        }
        KText {
            objectName: "pinWrong"
            width: parent.width
            visible: vm.pinWrong
            font.bold: true
            text: qsTr("The PIN was not right. %n try(s) left before the card is locked.", "", vm.pinTriesLeft)
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }
        Rectangle {
            width: Math.min(parent.width, Math.max(theme.touch * 4, dots.implicitWidth + 2 * theme.gap))
            height: Math.max(theme.touch, dots.implicitHeight + theme.gap)
            color: theme.panel
            border.color: theme.border
            border.width: 2
            KText {
                id: dots
                objectName: "pinDots"
                anchors.centerIn: parent
                font.pixelSize: theme.title
                text: "●".repeat(vm.pinLength)
                Accessible.role: Accessible.StaticText
                Accessible.name: qsTr("%n digit(s) entered", "", vm.pinLength)
            }
        }
        KText {
            width: parent.width
            visible: !vm.pinWrong  // after a mistake, the tries left matter more
            text: qsTr("To stop, take your card out.")
        }
    }

    Grid {
        id: pad
        anchors { right: parent.right; verticalCenter: parent.verticalCenter }
        columns: 3
        spacing: theme.gap
        Repeater {
            model: [1, 2, 3, 4, 5, 6, 7, 8, 9]
            KButton {
                objectName: "pin" + modelData
                width: root.keyWidth; height: root.keyHeight
                textSize: theme.title
                text: modelData
                onClicked: vm.pinDigit(modelData)
            }
        }
        KButton {
            objectName: "pinBack"
            width: root.keyWidth; height: root.keyHeight
            text: qsTr("Erase")
            onClicked: vm.pinBack()
        }
        KButton {
            objectName: "pin0"
            width: root.keyWidth; height: root.keyHeight
            textSize: theme.title
            text: "0"
            onClicked: vm.pinDigit(0)
        }
        KButton {
            objectName: "pinOk"
            width: root.keyWidth; height: root.keyHeight
            primary: true
            enabled: vm.pinReady
            text: qsTr("OK")
            accessibleName: qsTr("Confirm PIN")
            onClicked: vm.pinSubmit()
        }
    }
}
