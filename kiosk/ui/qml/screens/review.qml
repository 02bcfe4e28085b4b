import QtQuick
import ".."

// Everything the voter chose, on one scrollable page, then the one button that casts it.
// Protocol v2: the encrypted ballot's fingerprint under the list, and "Check this ballot"
// beside Cast (Benaloh's challenge; the overlay in Main.qml says what it does first).
Item {
    KText {
        id: heading
        objectName: "headline"
        anchors { left: parent.left; right: parent.right; top: parent.top }
        font.pixelSize: theme.title
        font.bold: true
        text: qsTr("Please check your vote")
    }
    ListView {
        objectName: "reviewList"
        anchors { left: parent.left; right: parent.right; top: heading.bottom; bottom: fingerprintPanel.top }
        anchors.topMargin: theme.gap
        anchors.bottomMargin: theme.gap
        clip: true
        spacing: theme.gap
        model: vm.reviewModel
        onMovementStarted: vm.touch()
        delegate: Rectangle {
            id: row
            required property int index
            required property string title
            required property var lines
            required property string problem
            width: ListView.view.width - theme.gap
            height: col.implicitHeight + 2 * theme.gap
            color: theme.panel
            border.color: theme.border
            radius: theme.gap / 2
            Column {
                id: col
                x: theme.gap; y: theme.gap
                width: parent.width - 2 * theme.gap
                spacing: theme.gap / 2
                Row {
                    width: parent.width
                    spacing: theme.gap
                    KText {
                        width: parent.width - change.width - theme.gap
                        font.bold: true
                        text: row.title
                    }
                    KButton {
                        id: change
                        objectName: "change-" + row.index
                        text: qsTr("Change")
                        accessibleName: qsTr("Change: %1").arg(row.title)
                        onClicked: vm.change(row.index)
                    }
                }
                Repeater {
                    model: row.lines
                    KText { required property string modelData; width: col.width; text: modelData }
                }
                Rectangle {
                    visible: row.problem !== ""
                    width: parent.width
                    height: problemText.implicitHeight + theme.gap
                    color: theme.warning
                    KText {
                        id: problemText
                        x: theme.gap / 2; y: theme.gap / 2
                        width: parent.width - theme.gap
                        color: theme.warningText
                        text: "⚠ " + row.problem
                    }
                }
            }
        }
    }
    Rectangle {
        id: fingerprintPanel
        objectName: "fingerprintPanel"
        visible: vm.encryptedBallot
        anchors { left: parent.left; right: parent.right; bottom: nav.top }
        anchors.bottomMargin: visible ? theme.gap : 0
        height: visible ? fingerprintColumn.implicitHeight + theme.gap : 0
        color: theme.panel
        border.color: theme.border
        radius: theme.gap / 2
        Column {
            id: fingerprintColumn
            x: theme.gap; y: theme.gap / 2
            width: parent.width - 2 * theme.gap
            spacing: theme.gap / 4
            KText {
                objectName: "fingerprint"
                width: parent.width
                font.bold: true
                text: vm.fingerprint !== "" ? qsTr("Ballot fingerprint: %1").arg(vm.fingerprint)
                                            : qsTr("Preparing your ballot…")
                Accessible.role: Accessible.StaticText
                Accessible.name: vm.fingerprint !== ""
                                 ? qsTr("Ballot fingerprint %1").arg(vm.fingerprint.split("").join(" "))
                                 : text
            }
            KText {
                objectName: "fingerprintHelp"
                width: parent.width
                visible: theme.scaleIndex < 2  // with the largest text, only what must be read
                text: qsTr("Your receipt shows the same code, so you can find this ballot in the public record. It does not show your choices.")
            }
        }
    }
    Row {
        id: nav
        anchors { left: parent.left; right: parent.right; bottom: parent.bottom }
        spacing: theme.gap * 2
        readonly property bool checkShown: vm.encryptedBallot && vm.checksLeft > 0
        readonly property real free: width - spacing * (checkShown ? 2 : 1)
        KButton {
            objectName: "back"
            width: nav.checkShown ? nav.free * 0.25 : nav.free / 3
            text: qsTr("Back")
            onClicked: vm.back()
        }
        KButton {
            objectName: "checkButton"
            visible: nav.checkShown
            width: nav.free * 0.35
            enabled: vm.canCast && vm.ballotReady
            text: qsTr("Check this ballot")
            accessibleName: qsTr("Check this ballot: it is shown opened and not counted, then you make your ballot again")
            onClicked: vm.checkBallot()
        }
        KButton {
            objectName: "castButton"
            width: nav.checkShown ? nav.free * 0.4 : nav.free * 2 / 3
            primary: true
            enabled: vm.canCast && (!vm.encryptedBallot || vm.ballotReady)
            textSize: theme.title
            text: qsTr("Cast my vote")
            onClicked: vm.cast()
        }
    }
}
