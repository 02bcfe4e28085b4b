import QtQuick
import ".."

Item {
    Column {
        anchors.centerIn: parent
        width: parent.width
        spacing: theme.gap * 2
        KText {
            objectName: "headline"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.huge
            font.bold: true
            text: qsTr("One moment, please…")
        }
        KText {
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            text: qsTr("Please leave your card in the reader.")
        }
    }
}
