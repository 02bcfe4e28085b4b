import QtQuick

// All text on the kiosk: the body size is the smallest there is.
Text {
    color: theme.text
    font.family: theme.fontFamily
    font.pixelSize: theme.body
    wrapMode: Text.WordWrap
    lineHeight: 1.15
}
