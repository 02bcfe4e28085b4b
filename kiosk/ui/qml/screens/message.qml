import QtQuick
import ".."

// A refusal or an ending: one sentence, then what to do next. Waits for the card to go.
Item {
    Column {
        anchors.centerIn: parent
        width: parent.width
        spacing: theme.gap * 3
        KText {
            objectName: "message"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.title
            font.bold: true
            text: vm.message
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
        }
        KText {
            objectName: "nextStep"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.title
            text: vm.nextStep
        }
    }
}
