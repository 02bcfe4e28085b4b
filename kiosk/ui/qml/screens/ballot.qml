import QtQuick
import ".."

// One contest per page: its proposals with large score or choose buttons.
Item {
    id: root

    Column {
        id: header
        anchors { left: parent.left; right: parent.right; top: parent.top }
        spacing: theme.gap / 2
        Row {
            width: parent.width
            spacing: theme.gap * 2
            KText {
                objectName: "progress"
                font.bold: true
                text: qsTr("Page %1 of %2").arg(vm.pageIndex + 1).arg(vm.pageCount)
                Accessible.role: Accessible.StaticText
                Accessible.name: text
            }
            KText {
                objectName: "contestTitle"
                width: parent.width - x
                font.pixelSize: theme.title
                font.bold: true
                text: vm.contestTitle
            }
        }
        KText {
            objectName: "contestHint"
            width: parent.width
            text: vm.contestKind === "score"
                ? qsTr("Give each proposal a score from %1 to %2. Scored: %3 of %4.")
                      .arg(vm.contestMin).arg(vm.contestMax).arg(vm.chosenCount).arg(vm.optionCount)
                : vm.contestKind === "choice"
                ? qsTr("You may choose up to %n.", "", vm.contestMax) + " "
                      + qsTr("Chosen: %1 of %2.").arg(vm.chosenCount).arg(vm.contestMax)
                : qsTr("Choose one answer.")
        }
    }

    ListView {
        id: list
        objectName: "optionList"
        anchors { left: parent.left; right: parent.right; top: header.bottom; bottom: nav.top }
        anchors.topMargin: theme.gap
        anchors.bottomMargin: theme.gap
        clip: true
        spacing: theme.gap
        visible: vm.contestKind !== "yesno"
        model: vm.optionModel
        onMovementStarted: vm.touch()
        delegate: Rectangle {
            id: card
            required property string optionId
            required property string title
            required property string summary
            required property string budget
            required property int score
            required property bool chosen
            required property var scores
            objectName: "option-" + optionId
            width: ListView.view.width - theme.gap
            height: body.implicitHeight + 2 * theme.gap
            color: theme.panel
            border.color: theme.border
            border.width: card.chosen || card.score >= 0 ? 4 : 1
            radius: theme.gap / 2

            Column {
                id: body
                x: theme.gap; y: theme.gap
                width: parent.width - 2 * theme.gap
                spacing: theme.gap

                Row {
                    width: parent.width
                    spacing: theme.gap
                    Column {
                        width: parent.width - more.width - theme.gap
                        KText { width: parent.width; font.bold: true; text: card.title }
                        KText { width: parent.width; text: card.summary }
                    }
                    KButton {
                        id: more
                        objectName: "detail-" + card.optionId
                        text: qsTr("More")
                        accessibleName: qsTr("More about %1").arg(card.title)
                        onClicked: vm.showDetail(card.optionId)
                    }
                }

                // A score contest without criteria: one row of score buttons.
                Flow {
                    visible: vm.contestKind === "score" && card.scores.length === 0
                    width: parent.width
                    spacing: theme.gap / 2
                    Repeater {
                        model: vm.contestKind === "score" ? vm.contestMax - vm.contestMin + 1 : 0
                        KButton {
                            property int value: vm.contestMin + index
                            objectName: "score-" + card.optionId + "-" + value
                            text: value
                            accessibleName: qsTr("%1 points for %2").arg(value).arg(card.title)
                            checkable: true
                            checked: card.score === value
                            onClicked: checked ? vm.clearScore(card.optionId) : vm.setScore(card.optionId, value)
                        }
                    }
                }
                // A score contest with criteria: one row per criterion.
                Repeater {
                    model: vm.contestKind === "score" ? card.scores : []
                    Column {
                        id: criterion
                        required property var modelData
                        width: body.width
                        KText { text: criterion.modelData.title }
                        Flow {
                            width: parent.width
                            spacing: theme.gap / 2
                            Repeater {
                                model: vm.contestMax - vm.contestMin + 1
                                KButton {
                                    property int value: vm.contestMin + index
                                    objectName: "score-" + card.optionId + "-" + criterion.modelData.criterion + "-" + value
                                    text: value
                                    accessibleName: qsTr("%1 points for %2").arg(value).arg(criterion.modelData.title)
                                    checkable: true
                                    checked: criterion.modelData.score === value
                                    onClicked: vm.setCriterionScore(card.optionId, criterion.modelData.criterion, value)
                                }
                            }
                        }
                    }
                }
                KButton {
                    visible: vm.contestKind === "choice"
                    objectName: "choose-" + card.optionId
                    text: card.chosen ? qsTr("Chosen") : qsTr("Choose")
                    accessibleName: (card.chosen ? qsTr("Chosen") : qsTr("Choose")) + ": " + card.title
                    checkable: true
                    checked: card.chosen
                    onClicked: vm.toggleChoice(card.optionId)
                }
            }
        }
    }

    Row {
        objectName: "yesno"
        visible: vm.contestKind === "yesno"
        anchors.centerIn: parent
        spacing: theme.gap * 2
        Repeater {
            model: [["yes", qsTr("Yes")], ["no", qsTr("No")], ["blank", qsTr("Blank")]]
            KButton {
                objectName: "answer-" + modelData[0]
                textSize: theme.title
                text: modelData[1]
                checkable: true
                checked: vm.answer === modelData[0]
                onClicked: vm.setAnswer(modelData[0])
            }
        }
    }

    Row {
        id: nav
        anchors { left: parent.left; right: parent.right; bottom: parent.bottom }
        spacing: theme.gap * 2
        KButton {
            objectName: "back"
            width: (parent.width - theme.gap * 2) / 3
            enabled: vm.pageIndex > 0
            text: qsTr("Back")
            onClicked: vm.back()
        }
        KButton {
            objectName: "next"
            width: (parent.width - theme.gap * 2) * 2 / 3
            primary: true
            text: vm.pageIndex + 1 < vm.pageCount ? qsTr("Next") : qsTr("Review my vote")
            onClicked: vm.next()
        }
    }
}
