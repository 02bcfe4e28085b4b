import QtQuick
import ".."

// Waiting for a card. Language and accessibility choices last until this voter leaves.
Item {
    id: root
    property bool showAccess: false

    Column {
        anchors.centerIn: parent
        width: parent.width
        spacing: theme.gap * 3

        KText {
            objectName: "electionTitle"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            text: vm.electionTitle
        }
        KText {
            objectName: "headline"
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            font.pixelSize: theme.huge
            font.bold: true
            text: !vm.hasElection ? qsTr("This kiosk has no election loaded.")
                : !vm.readerReady ? qsTr("The card reader is not connected.")
                : vm.votingOpen ? qsTr("Please insert your card")
                : vm.sessionState === "paused" ? qsTr("Voting is paused for a moment.")
                : qsTr("Voting is not open at this kiosk right now.")
            Accessible.role: Accessible.StaticText
            Accessible.name: text
        }
        KText {
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            visible: !vm.hasElection || !vm.readerReady || !vm.votingOpen
            text: qsTr("Please ask a staff member.")
        }

        Row {
            anchors.horizontalCenter: parent.horizontalCenter
            spacing: theme.gap * 2
            KButton {
                objectName: "langKo"
                text: "한국어"
                accessibleName: "한국어 (Korean)"
                checkable: true
                checked: vm.language === "ko"
                onClicked: vm.setLanguage("ko")
            }
            KButton {
                objectName: "langEn"
                text: "English"
                accessibleName: "English (영어)"
                checkable: true
                checked: vm.language === "en"
                onClicked: vm.setLanguage("en")
            }
            KButton {
                objectName: "accessButton"
                text: qsTr("Easier to see and use")
                checkable: true
                checked: root.showAccess
                onClicked: { root.showAccess = !root.showAccess; vm.touch() }
            }
        }

        Column {
            objectName: "accessPanel"
            visible: root.showAccess
            anchors.horizontalCenter: parent.horizontalCenter
            spacing: theme.gap
            KText { text: qsTr("Text size") }
            Row {
                spacing: theme.gap
                Repeater {
                    model: 4
                    KButton {
                        objectName: "textSize" + index
                        text: qsTr("Size %1").arg(index + 1)
                        checkable: true
                        checked: theme.scaleIndex === index
                        onClicked: vm.setTextSize(index)
                    }
                }
            }
            Row {
                spacing: theme.gap
                KButton {
                    objectName: "contrast"
                    text: qsTr("High contrast")
                    checkable: true
                    checked: theme.highContrast
                    onClicked: vm.setHighContrast(!theme.highContrast)
                }
                KButton {
                    objectName: "slower"
                    text: qsTr("More time")
                    checkable: true
                    checked: vm.moreTimeOn
                    onClicked: vm.setMoreTime(!vm.moreTimeOn)
                }
            }
        }
    }
}
