import QtQuick
import QtQuick.Window

// The kiosk window. It shows vm.screen and the overlays; it decides nothing itself.
Window {
    id: window
    objectName: "kioskWindow"
    title: "Hanpyo"
    color: theme.background
    // Closing is refused unless an election manager chose "leave kiosk mode".
    onClosing: (close) => { close.accepted = false }

    Rectangle {
        anchors.fill: parent
        color: theme.background

        Rectangle {
            id: testBanner
            objectName: "testBanner"
            visible: vm.testMode
            anchors { left: parent.left; right: parent.right; top: parent.top }
            height: visible ? bannerText.implicitHeight + theme.gap : 0
            color: theme.testBanner
            Accessible.role: Accessible.AlertMessage
            Accessible.name: bannerText.text
            KText {
                id: bannerText
                anchors.centerIn: parent
                width: parent.width - 2 * theme.gap
                horizontalAlignment: Text.AlignHCenter
                color: theme.testBannerText
                font.bold: true
                text: qsTr("TEST: test ballots are not counted")
            }
        }

        Loader {
            id: page
            objectName: "page"
            anchors { left: parent.left; right: parent.right; top: testBanner.bottom; bottom: parent.bottom }
            anchors.margins: theme.gap * 2
            source: "screens/" + vm.screen + ".qml"
        }

        Overlay {
            objectName: "detailOverlay"
            visible: vm.detail.optionId !== undefined
            Column {
                x: theme.gap * 2; y: theme.gap * 2
                width: parent.width - 4 * theme.gap
                spacing: theme.gap
                KText { width: parent.width; font.pixelSize: theme.title; font.bold: true; text: vm.detail.title || "" }
                Image {
                    visible: (vm.detail.image || "") !== ""
                    source: vm.detail.image || ""
                    width: parent.width
                    height: visible ? Math.min(width * 0.5, window.height * 0.22) : 0
                    fillMode: Image.PreserveAspectFit
                    Accessible.role: Accessible.Graphic
                    Accessible.name: vm.detail.title || ""
                }
                KText { width: parent.width; text: vm.detail.summary || "" }
                KText { width: parent.width; text: vm.detail.budget || ""; visible: text !== "" }
                KButton {
                    objectName: "closeDetail"
                    anchors.horizontalCenter: parent.horizontalCenter
                    text: qsTr("Close")
                    onClicked: vm.closeDetail()
                }
            }
        }

        Overlay {
            objectName: "warningOverlay"
            visible: vm.warning !== ""
            Column {
                x: theme.gap * 2; y: theme.gap * 2
                width: parent.width - 4 * theme.gap
                spacing: theme.gap * 2
                KText {
                    objectName: "warningText"
                    width: parent.width
                    font.pixelSize: theme.title
                    text: vm.warning
                    Accessible.role: Accessible.AlertMessage
                    Accessible.name: text
                }
                Row {
                    anchors.horizontalCenter: parent.horizontalCenter
                    spacing: theme.gap * 2
                    KButton {
                        objectName: "warningBack"
                        text: vm.warningBlocks ? qsTr("OK") : qsTr("Go back and finish")
                        primary: vm.warningBlocks
                        onClicked: vm.closeWarning()
                    }
                    KButton {
                        objectName: "warningGoOn"
                        visible: !vm.warningBlocks
                        text: qsTr("Go on anyway")
                        onClicked: vm.goOnAnyway()
                    }
                }
            }
        }

        Overlay {
            // Protocol v2: what "Check this ballot" does, before it is done. The words scroll
            // when the largest text does not fit; the two buttons stay in view below them.
            objectName: "checkOverlay"
            visible: vm.askingCheck
            Column {
                id: checkPanel
                x: theme.gap * 2; y: theme.gap * 2
                width: parent.width - 4 * theme.gap
                spacing: theme.gap
                Flickable {
                    width: parent.width
                    height: Math.min(checkWords.implicitHeight,
                                     window.height - checkButtons.height - theme.gap * 9)
                    contentHeight: checkWords.implicitHeight
                    clip: true
                    boundsBehavior: Flickable.StopAtBounds
                    onMovementStarted: vm.touch()
                    Column {
                        id: checkWords
                        width: parent.width
                        spacing: theme.gap
                        KText {
                            objectName: "checkTitle"
                            width: parent.width
                            font.pixelSize: theme.title
                            font.bold: true
                            text: qsTr("Check this ballot?")
                        }
                        KText {
                            width: parent.width
                            text: qsTr("The kiosk shows that it recorded your choices correctly.")
                        }
                        KText {
                            width: parent.width
                            text: qsTr("The checked ballot is published with its choices and is not counted. You then make your ballot again and cast it.")
                        }
                        KText {
                            width: parent.width
                            text: qsTr("You may check with other choices than your real ones.")
                        }
                        KText {
                            objectName: "checksLeftNote"
                            width: parent.width
                            text: qsTr("You may check %n more time(s).", "", vm.checksLeft)
                        }
                    }
                }
                Row {
                    id: checkButtons
                    anchors.horizontalCenter: parent.horizontalCenter
                    spacing: theme.gap * 2
                    KButton {
                        objectName: "checkCancel"
                        text: qsTr("Go back")
                        onClicked: vm.cancelCheck()
                    }
                    KButton {
                        objectName: "checkConfirm"
                        primary: true
                        text: qsTr("Check this ballot")
                        onClicked: vm.confirmCheck()
                    }
                }
            }
        }

        Overlay {
            objectName: "timeoutOverlay"
            visible: vm.secondsLeft > 0
            z: 20
            Column {
                x: theme.gap * 2; y: theme.gap * 2
                width: parent.width - 4 * theme.gap
                spacing: theme.gap * 2
                KText {
                    width: parent.width
                    font.pixelSize: theme.title
                    font.bold: true
                    text: qsTr("Are you still there?")
                }
                KText {
                    objectName: "timeoutText"
                    width: parent.width
                    text: qsTr("Your ballot will be cleared in %n second(s).", "", vm.secondsLeft)
                }
                KButton {
                    objectName: "moreTime"
                    anchors.horizontalCenter: parent.horizontalCenter
                    primary: true
                    textSize: theme.title
                    text: qsTr("I need more time")
                    onClicked: vm.moreTime()
                }
            }
        }
    }
}
