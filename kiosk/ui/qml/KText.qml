import QtQuick

// All text on the kiosk: the body size is the smallest there is. Plain text always: titles and
// names come from the election package, and a title is text, never markup (Qt would otherwise
// guess rich text from a "<" and draw tags, links and pictures).
Text {
    textFormat: Text.PlainText
    color: theme.text
    font.family: theme.fontFamily
    font.pixelSize: theme.body
    wrapMode: Text.WordWrap
    lineHeight: 1.15
}
