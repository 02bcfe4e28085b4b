import QtQuick
import ".."

// Protocol v2, after "Check this ballot": the checked ballot is published opened and never
// counts. Its fingerprint, its tracking code and the check page's QR code (all on the printed
// slip too), then back to the voter's choices to make the ballot again. The button stays at
// the bottom in view; with the largest text the words above it scroll.
Item {
    id: root
    Flickable {
        id: words
        anchors { left: parent.left; right: parent.right; top: parent.top; bottom: again.top }
        anchors.bottomMargin: theme.gap * 2
        contentHeight: content.implicitHeight
        clip: true
        boundsBehavior: Flickable.StopAtBounds
        onMovementStarted: vm.touch()
        Row {
            id: content
            width: words.width
            spacing: theme.gap * 3
            Column {
                width: parent.width - qr.width - parent.spacing
                spacing: theme.gap
                KText {
                    objectName: "headline"
                    width: parent.width
                    font.pixelSize: theme.title
                    font.bold: true
                    text: qsTr("Your ballot was checked. It will not be counted.")
                }
                KText { width: parent.width; text: qsTr("Ballot fingerprint:") }
                KText {
                    objectName: "checkedFingerprint"
                    width: parent.width
                    font.pixelSize: theme.title
                    font.bold: true
                    wrapMode: Text.NoWrap
                    fontSizeMode: Text.HorizontalFit
                    minimumPixelSize: theme.body
                    text: vm.receiptFingerprint
                    Accessible.role: Accessible.StaticText
                    Accessible.name: qsTr("Ballot fingerprint %1").arg(vm.receiptFingerprint.split("").join(" "))
                }
                KText {
                    width: parent.width
                    text: qsTr("On the check page you can see the choices this ballot holds. They should be the choices you made. If they are not, tell a staff member.")
                }
                KText {
                    objectName: "checkedCode"
                    width: parent.width
                    text: qsTr("Tracking code: %1").arg(vm.receiptCode)
                    Accessible.role: Accessible.StaticText
                    Accessible.name: qsTr("Tracking code %1").arg(vm.receiptCode.split("").join(" "))
                }
                KText { objectName: "printNote"; width: parent.width; visible: text !== ""; text: vm.printNote }
                KText {
                    objectName: "checksLeft"
                    width: parent.width
                    text: vm.checksLeftAfter > 0
                          ? qsTr("You may check %n more time(s).", "", vm.checksLeftAfter)
                          : qsTr("You cannot check again. Your next ballot is cast.")
                }
            }
            Image {
                id: qr
                objectName: "checkedQr"
                width: theme.scaleIndex < 2 ? Math.min(root.width * 0.3, root.height * 0.5)
                                            : Math.min(root.width * 0.22, root.height * 0.4)
                height: width
                source: vm.receiptQr
                smooth: false
                Accessible.role: Accessible.Graphic
                Accessible.name: qsTr("QR code for the check page of this ballot")
            }
        }
    }
    KButton {
        id: again
        objectName: "ballotAgain"
        anchors { left: parent.left; right: parent.right; bottom: parent.bottom }
        primary: true
        textSize: theme.title
        text: qsTr("Make my ballot again")
        accessibleName: qsTr("Now make your ballot again and cast it.")
        onClicked: vm.ballotAgain()
    }
}
