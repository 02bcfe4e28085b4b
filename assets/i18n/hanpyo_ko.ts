<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ko_KR">
<context>
    <name>Kiosk</name>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="18"/>
        <source>This card is not registered for this vote.</source>
        <translation>이 카드는 이번 투표에 등록되지 않았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="19"/>
        <source>This card is locked because the PIN was entered wrongly too many times.</source>
        <translation>비밀번호를 여러 번 잘못 입력하여 카드가 잠겼습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="22"/>
        <source>This is not a voting card. Please insert the card you were given for this vote.</source>
        <translation>투표용 카드가 아닙니다. 이번 투표에서 받으신 카드를 넣어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="25"/>
        <source>This card cannot be used at this kiosk.</source>
        <translation>이 카드는 이 투표기에서 쓸 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="26"/>
        <source>This card could not prove that it is genuine.</source>
        <translation>이 카드가 진짜인지 확인하지 못했습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="27"/>
        <source>The card reader is not working.</source>
        <translation>카드 리더기가 작동하지 않습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="28"/>
        <source>The card could not be read. Please take it out and insert it again.</source>
        <translation>카드를 읽지 못했습니다. 카드를 빼서 다시 넣어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="32"/>
        <source>Voting is not open at this kiosk right now.</source>
        <translation>지금은 이 투표기에서 투표할 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="33"/>
        <source>You have already voted at this kiosk.</source>
        <translation>이미 이 투표기에서 투표하셨습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="34"/>
        <source>You have already voted elsewhere. In this vote only your first ballot counts, so you cannot vote again.</source>
        <translation>이미 다른 곳에서 투표하셨습니다. 이번 투표는 처음 한 투표만 인정하므로 다시 투표할 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="39"/>
        <source>You have already voted in person, so you cannot vote again.</source>
        <translation>이미 현장에서 투표하셨으므로 다시 투표할 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="42"/>
        <source>You have already voted elsewhere. If you vote now, this ballot replaces your earlier one.</source>
        <translation>이미 다른 곳에서 투표하셨습니다. 지금 투표하시면 이 투표가 앞선 투표를 대신합니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="46"/>
        <source>You have already voted online. If you vote here, this ballot counts instead of your online one.</source>
        <translation>온라인으로 이미 투표하셨습니다. 여기서 투표하시면 온라인 투표 대신 이 투표가 인정됩니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="51"/>
        <source>There is nothing on the ballot for this card.</source>
        <translation>이 카드로 투표할 항목이 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="52"/>
        <source>Your vote could not be recorded. Nothing was saved.</source>
        <translation>투표를 기록하지 못했습니다. 아무것도 저장되지 않았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="55"/>
        <source>Your card was taken out before your vote was recorded. Nothing was saved.</source>
        <translation>투표가 기록되기 전에 카드가 빠졌습니다. 아무것도 저장되지 않았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="58"/>
        <source>Your ballot could not be checked. Nothing was saved.</source>
        <translation>투표지를 확인하지 못했습니다. 아무것도 저장되지 않았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="62"/>
        <source>This is a real voter card. In test mode only test cards can be used.</source>
        <translation>이 카드는 실제 투표용 카드입니다. 시험 모드에서는 시험용 카드만 쓸 수 있습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="65"/>
        <source>This is a test card. It cannot be used to vote.</source>
        <translation>이 카드는 시험용 카드입니다. 실제 투표에는 쓸 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="68"/>
        <source>Your ballot was cleared because there was no activity. Nothing was saved.</source>
        <translation>한동안 움직임이 없어 작성하던 투표를 지웠습니다. 아무것도 저장되지 않았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="71"/>
        <source>Thank you for voting.</source>
        <translation>투표해 주셔서 감사합니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="72"/>
        <source>The staff screen was closed because there was no activity.</source>
        <translation>한동안 움직임이 없어 진행 요원 화면을 닫았습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="76"/>
        <source>Please take your card and ask a staff member.</source>
        <translation>카드를 빼신 뒤 진행 요원에게 물어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="77"/>
        <source>Please take your card.</source>
        <translation>카드를 빼 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="78"/>
        <source>Please take your card out and insert it again.</source>
        <translation>카드를 빼서 다시 넣어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="79"/>
        <source>To vote, please insert your card again.</source>
        <translation>투표하시려면 카드를 다시 넣어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="81"/>
        <source>Proposals on this page without a score: %n.</source>
        <translation>이 화면에서 점수를 주지 않은 제안이 %n개 있습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="83"/>
        <source>Proposals with some items not scored: %n. Please score every item, or clear them.</source>
        <translation>항목 점수를 다 주지 않은 제안이 %n개 있습니다. 모든 항목에 점수를 주시거나, 준 점수를 지워 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="82"/>
        <source>You have not chosen anything on this page.</source>
        <translation>이 화면에서 아무것도 고르지 않으셨습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="87"/>
        <source>Please choose at least %n.</source>
        <translation>적어도 %n개를 골라 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="89"/>
        <source>The receipt could not be printed. Your vote is recorded.</source>
        <translation>영수증을 인쇄하지 못했습니다. 투표는 기록되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="92"/>
        <source>Your receipt is printed.</source>
        <translation>영수증이 인쇄되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="44"/>
        <source>Budget: %1 won</source>
        <translation>예산: %1원</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="55"/>
        <source>score %n</source>
        <translation>%n점</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="57"/>
        <source>not scored</source>
        <translation>점수 없음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="62"/>
        <source>nothing chosen</source>
        <translation>고른 것 없음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="65"/>
        <source>Yes</source>
        <translation>찬성</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="66"/>
        <source>No</source>
        <translation>반대</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="67"/>
        <source>Blank</source>
        <translation>기권</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="68"/>
        <source>no answer</source>
        <translation>답하지 않음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="111"/>
        <source>The session is open.</source>
        <translation>투표를 시작했습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="112"/>
        <source>The session is paused.</source>
        <translation>투표를 잠시 멈췄습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="113"/>
        <source>The session is open again.</source>
        <translation>투표를 다시 시작했습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="114"/>
        <source>The session is closed.</source>
        <translation>투표를 마감했습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="118"/>
        <source>The report is printed.</source>
        <translation>보고서가 인쇄되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="115"/>
        <source>The mode is changed.</source>
        <translation>모드를 바꿨습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="93"/>
        <source>The slip for your checked ballot is printed.</source>
        <translation>확인한 투표지의 영수증이 인쇄되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="94"/>
        <source>The slip could not be printed. Your checked ballot is published.</source>
        <translation>영수증을 인쇄하지 못했습니다. 확인한 투표지는 공개되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="119"/>
        <source>No USB drive is mounted.</source>
        <translation>USB 저장 장치가 연결되어 있지 않습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="116"/>
        <source>The chain is exported to the USB drive.</source>
        <translation>체인을 USB 저장 장치로 내보냈습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="120"/>
        <source>There is no election.json on the USB drive.</source>
        <translation>USB 저장 장치에 election.json 파일이 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="117"/>
        <source>The election is loaded.</source>
        <translation>선거를 불러왔습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/bridge.py" line="542"/>
        <location filename="../../kiosk/ui/texts.py" line="121"/>
        <source>Checking…</source>
        <translation>확인하는 중…</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="96"/>
        <source>Card readers: %1</source>
        <translation>카드 리더기: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="74"/>
        <location filename="../../kiosk/ui/wording.py" line="97"/>
        <source>none</source>
        <translation>없음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="100"/>
        <source>Printer: %1</source>
        <translation>프린터: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="104"/>
        <source>Ledger: not reachable (%1)</source>
        <translation>원장 서버: 연결 안 됨 (%1)</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="108"/>
        <source>Ledger: reachable; it holds this kiosk&apos;s blocks up to %1</source>
        <translation>원장 서버: 연결됨. 이 투표기의 블록을 %1번까지 받았습니다</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/texts.py" line="122"/>
        <source>Counting…</source>
        <translation>세는 중…</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="112"/>
        <source>Test tally: test ballots counted: %n</source>
        <translation>시험 개표: 센 시험 투표 %n표</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="116"/>
        <source>Test ballots that could not be counted: %n</source>
        <translation>셀 수 없는 시험 투표: %n표</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="122"/>
        <source>yes %1 · no %2 · blank %3</source>
        <translation>찬성 %1 · 반대 %2 · 기권 %3</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="126"/>
        <source>votes: %n</source>
        <translation>%n표</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="130"/>
        <source>scores: %n, mean %1</source>
        <translation>점수 %n개, 평균 %1점</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="134"/>
        <source>nothing yet</source>
        <translation>아직 없음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="76"/>
        <source>ready</source>
        <translation>준비됨</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="77"/>
        <source>paper low</source>
        <translation>용지 부족</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="78"/>
        <source>out of paper</source>
        <translation>용지 없음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="79"/>
        <source>offline</source>
        <translation>연결 안 됨</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="155"/>
        <source>You may choose up to %n. Remove one first to choose another.</source>
        <translation>최대 %n개까지 고를 수 있습니다. 다른 것을 고르시려면 먼저 하나를 빼 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="140"/>
        <source>not configured (offline kiosk)</source>
        <translation>설정 안 됨 (오프라인 투표기)</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="142"/>
        <source>STOPPED: the ledger could not be trusted. Call the election manager.</source>
        <translation>중지됨: 원장 서버를 신뢰할 수 없습니다. 선거 관리자를 불러 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="147"/>
        <source>offline; blocks waiting: %n</source>
        <translation>오프라인, 보낼 블록 %n개</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/wording.py" line="148"/>
        <source>online; blocks waiting: %n</source>
        <translation>온라인, 보낼 블록 %n개</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/bridge.py" line="502"/>
        <source>no card reader</source>
        <translation>카드 리더기 없음</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="33"/>
        <source>TEST: test ballots are not counted</source>
        <translation>시험 / TEST: 시험 투표는 집계되지 않습니다</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="67"/>
        <source>Close</source>
        <translation>닫기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="93"/>
        <source>OK</source>
        <translation>확인</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="93"/>
        <source>Go back and finish</source>
        <translation>돌아가서 마저 하기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="100"/>
        <source>Go on anyway</source>
        <translation>그대로 넘어가기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="134"/>
        <source>Check this ballot?</source>
        <translation>이 투표지를 확인할까요?</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="138"/>
        <source>The kiosk shows that it recorded your choices correctly.</source>
        <translation>투표기가 내 선택을 제대로 기록했는지 보여 줍니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="142"/>
        <source>The checked ballot is published with its choices and is not counted. You then make your ballot again and cast it.</source>
        <translation>확인한 투표지는 선택 내용과 함께 공개되고, 집계되지 않습니다. 그다음 투표지를 다시 만들어 투표합니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="146"/>
        <source>You may check with other choices than your real ones.</source>
        <translation>실제와 다른 선택으로 확인해도 됩니다.</translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/Main.qml" line="151"/>
        <source>You may check %n more time(s).</source>
        <translation>
            <numerusform>앞으로 %n번 더 확인할 수 있습니다.</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="161"/>
        <source>Go back</source>
        <translation>돌아가기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="167"/>
        <source>Check this ballot</source>
        <translation>투표지 확인하기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="186"/>
        <source>Are you still there?</source>
        <translation>계속 투표하고 계신가요?</translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/Main.qml" line="191"/>
        <source>Your ballot will be cleared in %n second(s).</source>
        <translation>
            <numerusform>%n초 뒤에 작성하던 투표가 지워집니다.</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/Main.qml" line="198"/>
        <source>I need more time</source>
        <translation>시간이 더 필요해요</translation>
    </message>
</context>
<context>
    <name>ballot</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="18"/>
        <source>Page %1 of %2</source>
        <translation>%1 / %2 쪽</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="34"/>
        <source>Give each proposal a score from %1 to %2. Scored: %3 of %4.</source>
        <translation>제안마다 %1점에서 %2점까지 점수를 주세요. %4개 중 %3개 완료.</translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="37"/>
        <source>You may choose up to %n.</source>
        <translation>
            <numerusform>최대 %n개까지 고를 수 있습니다.</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="38"/>
        <source>Chosen: %1 of %2.</source>
        <translation>%2개 중 %1개 골랐습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="39"/>
        <source>Choose one answer.</source>
        <translation>하나를 골라 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="88"/>
        <source>More</source>
        <translation>자세히</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="89"/>
        <source>More about %1</source>
        <translation>%1 자세히 보기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="105"/>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="129"/>
        <source>%1 points for %2</source>
        <translation>%2에 %1점</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="141"/>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="142"/>
        <source>Chosen</source>
        <translation>골랐음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="141"/>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="142"/>
        <source>Choose</source>
        <translation>고르기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="157"/>
        <source>Yes</source>
        <translation>찬성</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="157"/>
        <source>No</source>
        <translation>반대</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="157"/>
        <source>Blank</source>
        <translation>기권</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="177"/>
        <source>Back</source>
        <translation>이전</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="184"/>
        <source>Next</source>
        <translation>다음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/ballot.qml" line="184"/>
        <source>Review my vote</source>
        <translation>내 투표 확인하기</translation>
    </message>
</context>
<context>
    <name>checked</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="30"/>
        <source>Your ballot was checked. It will not be counted.</source>
        <translation>투표지를 확인했습니다. 이 투표지는 집계되지 않습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="43"/>
        <source>Ballot fingerprint %1</source>
        <translation>투표지 지문 %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="47"/>
        <source>On the check page you can see the choices this ballot holds. They should be the choices you made. If they are not, tell a staff member.</source>
        <translation>확인 페이지에서 이 투표지에 담긴 선택을 볼 수 있습니다. 내가 고른 것과 같아야 합니다. 다르면 진행 요원에게 알려 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="52"/>
        <source>Tracking code: %1</source>
        <translation>추적 코드: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="54"/>
        <source>Tracking code %1</source>
        <translation>추적 코드 %1</translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="61"/>
        <source>You may check %n more time(s).</source>
        <translation>
            <numerusform>앞으로 %n번 더 확인할 수 있습니다.</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="62"/>
        <source>You cannot check again. Your next ballot is cast.</source>
        <translation>더 확인할 수 없습니다. 다음 투표지는 투표로 기록됩니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="85"/>
        <source>Now make your ballot again and cast it.</source>
        <translation>이제 투표지를 다시 만들어 투표해 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="84"/>
        <source>Make my ballot again</source>
        <translation>투표지 다시 만들기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="32"/>
        <source>Ballot fingerprint:</source>
        <translation>투표지 지문:</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/checked.qml" line="74"/>
        <source>QR code for the check page of this ballot</source>
        <translation>이 투표지의 확인 페이지로 가는 QR 코드</translation>
    </message>
</context>
<context>
    <name>notice</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/notice.qml" line="20"/>
        <source>Continue to the ballot</source>
        <translation>투표 계속하기</translation>
    </message>
</context>
<context>
    <name>pin</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="22"/>
        <source>Please enter your PIN</source>
        <translation>비밀번호를 입력해 주세요</translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="29"/>
        <source>The PIN was not right. %n try(s) left before the card is locked.</source>
        <translation>
            <numerusform>비밀번호가 맞지 않습니다. 카드가 잠기기 전까지 %n번 더 입력할 수 있습니다.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="46"/>
        <source>%n digit(s) entered</source>
        <translation>
            <numerusform>%n자리 입력함</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="74"/>
        <source>Erase</source>
        <translation>지우기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="89"/>
        <source>OK</source>
        <translation>확인</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="90"/>
        <source>Confirm PIN</source>
        <translation>비밀번호 확인</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/pin.qml" line="52"/>
        <source>To stop, take your card out.</source>
        <translation>그만두시려면 카드를 빼 주세요.</translation>
    </message>
</context>
<context>
    <name>reading</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/reading.qml" line="15"/>
        <source>One moment, please…</source>
        <translation>잠시만 기다려 주세요…</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/reading.qml" line="20"/>
        <source>Please leave your card in the reader.</source>
        <translation>카드를 빼지 말아 주세요.</translation>
    </message>
</context>
<context>
    <name>receipt</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="17"/>
        <source>Your vote has been recorded.</source>
        <translation>투표가 기록되었습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="19"/>
        <source>Your tracking code:</source>
        <translation>추적 코드:</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="31"/>
        <source>Tracking code %1</source>
        <translation>추적 코드 %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="36"/>
        <source>It shows that your ballot is in the public ledger. It does not show how you voted.</source>
        <translation>이 코드로 내 투표가 공개 원장에 들어갔는지 확인할 수 있습니다. 누구를 찍었는지는 드러나지 않습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="42"/>
        <source>Ballot fingerprint: %1</source>
        <translation>투표지 지문: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="44"/>
        <source>Ballot fingerprint %1</source>
        <translation>투표지 지문 %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="52"/>
        <source>Please take your card.</source>
        <translation>카드를 빼 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/receipt.qml" line="63"/>
        <source>QR code to check your tracking code</source>
        <translation>추적 코드를 확인하는 QR 코드</translation>
    </message>
</context>
<context>
    <name>review</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="14"/>
        <source>Please check your vote</source>
        <translation>투표 내용을 확인해 주세요</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="52"/>
        <source>Change</source>
        <translation>고치기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="53"/>
        <source>Change: %1</source>
        <translation>고치기: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="96"/>
        <source>Ballot fingerprint: %1</source>
        <translation>투표지 지문: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="97"/>
        <source>Preparing your ballot…</source>
        <translation>투표지를 준비하고 있습니다…</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="100"/>
        <source>Ballot fingerprint %1</source>
        <translation>투표지 지문 %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="107"/>
        <source>Your receipt shows the same code, so you can find this ballot in the public record. It does not show your choices.</source>
        <translation>영수증에도 같은 코드가 인쇄되어, 공개 기록에서 이 투표지를 찾을 수 있습니다. 이 코드로는 내 선택을 알 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="120"/>
        <source>Back</source>
        <translation>이전</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="128"/>
        <source>Check this ballot</source>
        <translation>투표지 확인하기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="129"/>
        <source>Check this ballot: it is shown opened and not counted, then you make your ballot again</source>
        <translation>투표지 확인하기: 투표지가 열려 공개되고 집계되지 않으며, 그다음 투표지를 다시 만듭니다</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/review.qml" line="138"/>
        <source>Cast my vote</source>
        <translation>투표하기</translation>
    </message>
</context>
<context>
    <name>staff</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="22"/>
        <source>Staff: %1</source>
        <translation>진행 요원: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="28"/>
        <source>Election package: %1</source>
        <translation>선거 패키지: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="33"/>
        <source>Mode: TEST</source>
        <translation>모드: 시험</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="34"/>
        <source>Mode: OFFICIAL</source>
        <translation>모드: 본 투표</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="34"/>
        <source>Mode: not set</source>
        <translation>모드: 정하지 않음</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="40"/>
        <source>Session %1: OPEN</source>
        <translation>%1회차: 진행 중</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="41"/>
        <source>Session %1: PAUSED</source>
        <translation>%1회차: 잠시 멈춤</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="42"/>
        <source>Session: CLOSED</source>
        <translation>회차: 마감됨</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="47"/>
        <source>Ballots this session: %1 (test %2)</source>
        <translation>이번 회차 투표 수: %1 (시험 %2)</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="48"/>
        <source>Ballots in total: %1 (test %2)</source>
        <translation>전체 투표 수: %1 (시험 %2)</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="50"/>
        <source>Ledger sync: %1</source>
        <translation>원장 동기화: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="51"/>
        <source>Card reader: %1</source>
        <translation>카드 리더기: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="52"/>
        <source>Printer: %1</source>
        <translation>프린터: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="53"/>
        <source>Chain head: %1</source>
        <translation>체인 머리: %1</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="60"/>
        <source>QR code of the chain head for observers</source>
        <translation>참관인용 체인 머리 QR 코드</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="62"/>
        <source>Kiosk %1 · version %2</source>
        <translation>투표기 %1 · 버전 %2</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="88"/>
        <source>Open the session</source>
        <translation>투표 시작</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="94"/>
        <source>Pause</source>
        <translation>잠시 멈춤</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="101"/>
        <source>Resume</source>
        <translation>다시 시작</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="107"/>
        <source>Close the session</source>
        <translation>투표 마감</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="112"/>
        <source>Print a report</source>
        <translation>보고서 인쇄</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="122"/>
        <source>Election manager</source>
        <translation>선거 관리자</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="128"/>
        <source>Test mode</source>
        <translation>시험 모드</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="135"/>
        <source>Official mode</source>
        <translation>본 투표 모드</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="140"/>
        <source>Load election from USB</source>
        <translation>USB에서 선거 불러오기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="141"/>
        <source>Load election from the ledger</source>
        <translation>원장 서버에서 선거 불러오기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="142"/>
        <source>Export the chain to USB</source>
        <translation>체인을 USB로 내보내기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="143"/>
        <source>Diagnostics</source>
        <translation>점검</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="144"/>
        <source>Test tally</source>
        <translation>시험 개표</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="145"/>
        <source>Leave kiosk mode</source>
        <translation>투표기 모드 끝내기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="155"/>
        <source>Load the election package %1? Compare this code with the one the authority published.</source>
        <translation>선거 패키지 %1을(를) 불러올까요? 이 코드를 선거 관리 기관이 공개한 코드와 비교해 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="159"/>
        <source>Load it</source>
        <translation>불러오기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="160"/>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/staff.qml" line="174"/>
        <source>Take the staff card out to return to the voting screen.</source>
        <translation>진행 요원 카드를 빼면 투표 화면으로 돌아갑니다.</translation>
    </message>
</context>
<context>
    <name>waiting</name>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="26"/>
        <source>This kiosk has no election loaded.</source>
        <translation>이 투표기에 불러온 선거가 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="27"/>
        <source>The card reader is not connected.</source>
        <translation>카드 리더기가 연결되어 있지 않습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="28"/>
        <source>Please insert your card</source>
        <translation>카드를 넣어 주세요</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="29"/>
        <source>Voting is paused for a moment.</source>
        <translation>투표를 잠시 멈췄습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="30"/>
        <source>Voting is not open at this kiosk right now.</source>
        <translation>지금은 이 투표기에서 투표할 수 없습니다.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="38"/>
        <source>Please ask a staff member.</source>
        <translation>진행 요원에게 물어 주세요.</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="62"/>
        <source>Easier to see and use</source>
        <translation>크게 보기 · 쉽게 쓰기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="74"/>
        <source>Text size</source>
        <translation>글자 크기</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="81"/>
        <source>Size %1</source>
        <translation>%1단계</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="92"/>
        <source>High contrast</source>
        <translation>고대비 화면</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/qml/screens/waiting.qml" line="99"/>
        <source>More time</source>
        <translation>시간 여유 있게</translation>
    </message>
</context>
</TS>
