import QtQuick
import ".."

Item {
    Column {
        anchors.centerIn: parent
        width: parent.width
        spacing: theme.gap * 3
        KText {
            objectName: "notice"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.title
            text: vm.notice
        }
        KButton {
            objectName: "startVoting"
            anchors.horizontalCenter: parent.horizontalCenter
            primary: true
            text: qsTr("Continue to the ballot")
            onClicked: vm.startVoting()
        }
    }
}
