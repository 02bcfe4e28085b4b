import QtQuick
import ".."

// Shown only after the ballot's block is committed to the store.
Item {
    Row {
        anchors.centerIn: parent
        spacing: theme.gap * 4
        Column {
            width: root.width - qr.width - theme.gap * 4
            spacing: theme.gap * 2
            KText {
                objectName: "headline"
                width: parent.width
                font.pixelSize: theme.title
                font.bold: true
                text: qsTr("Your vote has been recorded.")
            }
            KText { width: parent.width; text: qsTr("Your tracking code:"); visible: theme.scaleIndex < 3 }
            KText {
                objectName: "trackingCode"
                width: parent.width
                font.pixelSize: theme.huge
                font.bold: true
                font.letterSpacing: theme.gap / 3
                wrapMode: Text.NoWrap
                fontSizeMode: Text.HorizontalFit
                minimumPixelSize: theme.body
                text: vm.receiptCode
                Accessible.role: Accessible.StaticText
                Accessible.name: qsTr("Tracking code %1").arg(vm.receiptCode.split("").join(" "))
            }
            KText {
                width: parent.width
                visible: theme.scaleIndex < 2  // with the largest text, only what must be read
                text: qsTr("It shows that your ballot is in the public ledger. It does not show how you voted.")
            }
            KText {
                objectName: "receiptFingerprint"
                width: parent.width
                visible: vm.receiptFingerprint !== ""  // protocol v2: the cast ballot's fingerprint
                wrapMode: Text.NoWrap
                fontSizeMode: Text.HorizontalFit
                minimumPixelSize: theme.body
                text: qsTr("Ballot fingerprint: %1").arg(vm.receiptFingerprint)
                Accessible.role: Accessible.StaticText
                Accessible.name: qsTr("Ballot fingerprint %1").arg(vm.receiptFingerprint.split("").join(" "))
            }
            KText { objectName: "printNote"; width: parent.width; visible: text !== ""; text: vm.printNote }
            KText {
                objectName: "takeCard"
                width: parent.width
                font.pixelSize: theme.title
                font.bold: true
                text: qsTr("Please take your card.")
            }
        }
        Image {
            id: qr
            objectName: "receiptQr"
            // smaller with the largest text, so the codes beside it keep to one line each
            width: theme.scaleIndex < 3 || vm.receiptFingerprint === ""
                   ? Math.min(root.width * 0.3, root.height * 0.6)
                   : Math.min(root.width * 0.2, root.height * 0.35)
            height: width
            source: vm.receiptQr
            smooth: false
            Accessible.role: Accessible.Graphic
            Accessible.name: qsTr("QR code to check your tracking code")
        }
    }
    id: root
}
