import QtQuick
import ".."

// Everything the voter chose, on one scrollable page, then the one button that casts it.
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
        anchors { left: parent.left; right: parent.right; top: heading.bottom; bottom: nav.top }
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
    Row {
        id: nav
        anchors { left: parent.left; right: parent.right; bottom: parent.bottom }
        spacing: theme.gap * 2
        KButton {
            objectName: "back"
            width: (parent.width - theme.gap * 2) / 3
            text: qsTr("Back")
            onClicked: vm.back()
        }
        KButton {
            objectName: "castButton"
            width: (parent.width - theme.gap * 2) * 2 / 3
            primary: true
            enabled: vm.canCast
            textSize: theme.title
            text: qsTr("Cast my vote")
            onClicked: vm.cast()
        }
    }
}
