import QtQuick
import ".."

// The PIN pad: large keys, the digits never shown, tries left after a mistake.
Item {
    Column {
        anchors.horizontalCenter: parent.horizontalCenter
        width: parent.width
        spacing: theme.gap * 2

        KText {
            objectName: "headline"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.title
            font.bold: true
            text: qsTr("Please enter your PIN")
        }
        KText {
            objectName: "pinWrong"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            visible: vm.pinWrong
            font.bold: true
            text: qsTr("The PIN was not right. %n try(s) left before the card is locked.", "", vm.pinTriesLeft)
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }
        Rectangle {
            anchors.horizontalCenter: parent.horizontalCenter
            width: Math.max(theme.touch * 4, dots.implicitWidth + 2 * theme.gap)
            height: theme.touch
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
        Grid {
            anchors.horizontalCenter: parent.horizontalCenter
            columns: 3
            spacing: theme.gap
            Repeater {
                model: [1, 2, 3, 4, 5, 6, 7, 8, 9]
                KButton {
                    objectName: "pin" + modelData
                    width: theme.touch * 1.6; height: theme.touch * 1.2
                    textSize: theme.title
                    text: modelData
                    onClicked: vm.pinDigit(modelData)
                }
            }
            KButton {
                objectName: "pinBack"
                width: theme.touch * 1.6; height: theme.touch * 1.2
                text: qsTr("Erase")
                onClicked: vm.pinBack()
            }
            KButton {
                objectName: "pin0"
                width: theme.touch * 1.6; height: theme.touch * 1.2
                textSize: theme.title
                text: "0"
                onClicked: vm.pinDigit(0)
            }
            KButton {
                objectName: "pinOk"
                width: theme.touch * 1.6; height: theme.touch * 1.2
                primary: true
                enabled: vm.pinReady
                text: qsTr("OK")
                accessibleName: qsTr("Confirm PIN")
                onClicked: vm.pinSubmit()
            }
        }
        KText {
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            text: qsTr("To stop, take your card out.")
        }
    }
}
