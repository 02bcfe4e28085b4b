import QtQuick
import ".."

// Staff card + PIN: status on the left (counts, never results), actions on the right.
Item {
    id: root
    Flickable {
        anchors.fill: parent
        contentHeight: Math.max(left.implicitHeight, right.implicitHeight)
        clip: true
        onMovementStarted: vm.touch()

        Column {
            id: left
            width: root.width * 0.5 - theme.gap
            spacing: theme.gap / 2
            KText {
                objectName: "headline"
                width: parent.width
                font.pixelSize: theme.title
                font.bold: true
                text: qsTr("Staff: %1").arg(vm.staffName)
            }
            KText { width: parent.width; text: vm.electionTitle }
            KText {
                objectName: "packageHash"
                width: parent.width
                text: qsTr("Election package: %1").arg(vm.packageHash)
            }
            KText {
                objectName: "modeText"
                width: parent.width
                text: vm.mode === "test" ? qsTr("Mode: TEST")
                    : vm.mode === "official" ? qsTr("Mode: OFFICIAL") : qsTr("Mode: not set")
            }
            KText {
                objectName: "sessionText"
                width: parent.width
                font.bold: true
                text: vm.sessionState === "open" ? qsTr("Session %1: OPEN").arg(vm.counts.sessionNumber)
                    : vm.sessionState === "paused" ? qsTr("Session %1: PAUSED").arg(vm.counts.sessionNumber)
                    : qsTr("Session: CLOSED")
            }
            KText {
                objectName: "countsText"
                width: parent.width
                text: qsTr("Ballots this session: %1 (test %2)").arg(vm.counts.session).arg(vm.counts.sessionTest)
                      + "\n" + qsTr("Ballots in total: %1 (test %2)").arg(vm.counts.total).arg(vm.counts.totalTest)
            }
            KText { objectName: "syncText"; width: parent.width; text: qsTr("Ledger sync: %1").arg(vm.syncText) }
            KText { objectName: "readerText"; width: parent.width; text: qsTr("Card reader: %1").arg(vm.readerText) }
            KText { objectName: "printerText"; width: parent.width; text: qsTr("Printer: %1").arg(vm.printerText) }
            KText { width: parent.width; text: qsTr("Chain head: %1").arg(vm.chainHead) }
            Image {
                objectName: "chainQr"
                width: theme.touch * 3; height: width
                source: vm.chainQr
                smooth: false
                Accessible.role: Accessible.Graphic
                Accessible.name: qsTr("QR code of the chain head for observers")
            }
            KText { width: parent.width; text: qsTr("Kiosk %1 · version %2").arg(vm.kioskId.slice(0, 12)).arg(vm.version) }
        }

        Column {
            id: right
            x: root.width * 0.5 + theme.gap
            width: root.width * 0.5 - theme.gap
            spacing: theme.gap

            KText {
                objectName: "staffNote"
                width: parent.width
                visible: text !== ""
                font.bold: true
                text: vm.staffNote
                Accessible.role: Accessible.AlertMessage
                Accessible.name: text
            }
            Flow {
                width: parent.width
                spacing: theme.gap
                KButton {
                    objectName: "openSession"
                    visible: vm.sessionState === "closed"
                    enabled: vm.mode !== "unset"
                    primary: true
                    text: qsTr("Open the session")
                    onClicked: vm.openSession()
                }
                KButton {
                    objectName: "pauseSession"
                    visible: vm.sessionState === "open"
                    text: qsTr("Pause")
                    onClicked: vm.pauseSession()
                }
                KButton {
                    objectName: "resumeSession"
                    visible: vm.sessionState === "paused"
                    primary: true
                    text: qsTr("Resume")
                    onClicked: vm.resumeSession()
                }
                KButton {
                    objectName: "closeSession"
                    visible: vm.sessionState !== "closed"
                    text: qsTr("Close the session")
                    onClicked: vm.closeSession()
                }
                KButton {
                    objectName: "printReport"
                    text: qsTr("Print a report")
                    onClicked: vm.printReport()
                }
            }

            Column {
                objectName: "managerPanel"
                visible: vm.isManager
                width: parent.width
                spacing: theme.gap
                KText { width: parent.width; font.bold: true; text: qsTr("Election manager") }
                Flow {
                    width: parent.width
                    spacing: theme.gap
                    KButton {
                        objectName: "testMode"
                        text: qsTr("Test mode")
                        checkable: true
                        checked: vm.mode === "test"
                        onClicked: vm.setMode("test")
                    }
                    KButton {
                        objectName: "officialMode"
                        text: qsTr("Official mode")
                        checkable: true
                        checked: vm.mode === "official"
                        onClicked: vm.setMode("official")
                    }
                    KButton { objectName: "loadUsb"; text: qsTr("Load election from USB"); onClicked: vm.loadFromUsb() }
                    KButton { objectName: "loadLedger"; text: qsTr("Load election from the ledger"); onClicked: vm.loadFromLedger() }
                    KButton { objectName: "exportUsb"; text: qsTr("Export the chain to USB"); onClicked: vm.exportUsb() }
                    KButton { objectName: "diagnostics"; text: qsTr("Diagnostics"); onClicked: vm.runDiagnostics() }
                    KButton { objectName: "testTally"; text: qsTr("Test tally"); onClicked: vm.showTestTally() }
                    KButton { objectName: "leaveKiosk"; text: qsTr("Leave kiosk mode"); onClicked: vm.leaveKiosk() }
                }
                Column {
                    visible: vm.pendingHash !== ""
                    width: parent.width
                    spacing: theme.gap
                    KText {
                        objectName: "pendingHash"
                        width: parent.width
                        font.bold: true
                        text: qsTr("Load the election package %1? Compare this code with the one the authority published.").arg(vm.pendingHash)
                    }
                    Row {
                        spacing: theme.gap
                        KButton { objectName: "confirmLoad"; primary: true; text: qsTr("Load it"); onClicked: vm.confirmLoad() }
                        KButton { objectName: "cancelLoad"; text: qsTr("Cancel"); onClicked: vm.cancelLoad() }
                    }
                }
                Repeater {
                    model: vm.diagnostics
                    KText { required property string modelData; width: right.width; text: modelData }
                }
                Repeater {
                    model: vm.testTally
                    KText { objectName: "testTallyLine"; required property string modelData; width: right.width; text: modelData }
                }
            }
            KText {
                width: parent.width
                text: qsTr("Take the staff card out to return to the voting screen.")
            }
        }
    }
}
