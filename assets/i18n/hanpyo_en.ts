<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>Main</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/Main.qml" line="151"/>
        <source>You may check %n more time(s).</source>
        <translation>
            <numerusform>You may check %n more time.</numerusform>
            <numerusform>You may check %n more times.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/Main.qml" line="191"/>
        <source>Your ballot will be cleared in %n second(s).</source>
        <translation>
            <numerusform>Your ballot will be cleared in %n second.</numerusform>
            <numerusform>Your ballot will be cleared in %n seconds.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ballot</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="37"/>
        <source>You may choose up to %n.</source>
        <translation>
            <numerusform>You may choose up to %n.</numerusform>
            <numerusform>You may choose up to %n.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>checked</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="61"/>
        <source>You may check %n more time(s).</source>
        <translation>
            <numerusform>You may check %n more time.</numerusform>
            <numerusform>You may check %n more times.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>pin</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="29"/>
        <source>The PIN was not right. %n try(s) left before the card is locked.</source>
        <translation>
            <numerusform>The PIN was not right. %n try left before the card is locked.</numerusform>
            <numerusform>The PIN was not right. %n tries left before the card is locked.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="46"/>
        <source>%n digit(s) entered</source>
        <translation>
            <numerusform>%n digit entered</numerusform>
            <numerusform>%n digits entered</numerusform>
        </translation>
    </message>
</context>
</TS>
