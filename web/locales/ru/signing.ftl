# Signing: envelopes, the built-in simple e-signature, verification.

nav-signing = На подпись
nav-signing-authority = Право подписи
signing-title = Документы на подпись
signing-list-hint = Документы, которые ваша организация подписывает простой электронной подписью. Откройте документ, прочитайте PDF и подпишите кодом из SMS или письма — или откажитесь с указанием причины.
signing-empty = Документов на подпись нет.
signing-version = версия { $version }
signing-version-label = Версия документа
signing-order-title = Подписание
signing-document = Документ
signing-channel = Канал подписания
signing-channel-pep = Простая электронная подпись (в кабинете)
signing-channel-diadoc = ЭДО: Диадок
signing-channel-sbis = ЭДО: СБИС
signing-status = Статус
signing-send = Отправить на подпись
signing-sent-at = Отправлен
signing-back-to-order = К заказу
signing-open-pdf = Открыть PDF
signing-signed-copy = Подписанный экземпляр (PDF)
signing-signatures = Подписи
signing-side-party = Контрагент
signing-side-broker = Наша компания
signing-reject-reason = Причина отказа
envelope-status-sent = Ждёт подписи стороны
envelope-status-signed_by_party = Подписан стороной, ждёт нашей подписи
envelope-status-countersigned = Подписан обеими сторонами
envelope-status-rejected = Отклонён
envelope-status-superseded = Заменён исправленной версией
doc-template-signature_page = Лист подписания

esign-agreement-title = Соглашение об электронном взаимодействии
esign-agreement-hint = Прежде чем подписать первый документ, примите соглашение (редакция { $version }). Его принимают один раз за организацию; мы храним, кто, когда и откуда его принял.
esign-agreement-accept = Принимаю соглашение
esign-agreement-accepted = Соглашение об электронном взаимодействии (редакция { $version }) принято: { $name }.
esign-agreement-text =
    1. Стороны признают документы, подписанные простой электронной подписью в личном кабинете сервиса «Подряд», равнозначными документам на бумажном носителе, подписанным собственноручной подписью (ч. 2 ст. 6 Федерального закона № 63-ФЗ «Об электронной подписи»).
    2. Ключом простой электронной подписи является одноразовый код из шести цифр, который сервис направляет подписанту SMS-сообщением на его номер телефона или письмом на его адрес электронной почты, указанные в учётной записи. Код действует 10 минут и применяется один раз.
    3. Подписант определяется по учётной записи, под которой выполнен вход, и по введённому коду. Подписант указывает свою должность и основание полномочий (устав или доверенность); сторона отвечает за достоверность этих сведений.
    4. Подписант обязан хранить в тайне доступ к учётной записи, телефону и почте, а при утрате — немедленно сообщить об этом оператору.
    5. Сервис хранит о каждой подписи: SHA-256 подписанного документа, подписанта, его полномочия, время (UTC), IP-адрес, сведения о браузере и хеш кода. Подписанный экземпляр с листом подписания проверяется на странице /verify.
    6. Со стороны оператора документы подписывает уполномоченный сотрудник, вошедший в систему под своей учётной записью.

signing-sign-title = Подписать документ
signing-code-via = Куда прислать код:
signing-via-sms = SMS на телефон
signing-via-email = Письмо на почту
signing-code-request = Получить код
signing-code-sent = Код отправлен: { $to }. Он действует 10 минут.
signing-code = Код из SMS или письма
signing-position = Должность подписанта
signing-basis = Основание полномочий
signing-basis-option-charter = Устав
signing-basis-option-power_of_attorney = Доверенность
signing-basis-option-self = Лично (ИП, физическое лицо)
signing-poa-number = Номер доверенности
signing-poa-date = Дата доверенности
signing-poa-hint = Только при подписании по доверенности.
signing-legal-hint = Вводя код, вы подписываете документ простой электронной подписью по соглашению об электронном взаимодействии.
signing-sign = Подписать
signing-reject-title = Отказаться от подписи
signing-reject = Отказаться
signing-countersign-title = Подпись компании
signing-countersign-hint = Сторона подписала документ. Ваша подпись завершит его: сторона получит подписанный экземпляр с листом подписания.
signing-countersign = Подписать со стороны компании
signing-no-authority = У вас нет права подписи. Его даёт администратор на странице «Право подписи».
signing-channel-title = Канал подписания
signing-edo-box = Ящик ЭДО контрагента
signing-edo-box-hint = Идентификатор ящика в Диадоке или СБИС; для подписи в кабинете не нужен.
signing-channel-remember = Сделать каналом по умолчанию для контрагента
signing-reissue-title = Исправленная версия
signing-reissue-hint = Выпустит новую версию документа и отправит её стороне на подпись; текущая будет заменена.
signing-reissue = Выпустить исправленную версию
signing-authority-title = Право подписи
signing-authority-hint = Сотрудники с правом подписи подписывают документы со стороны компании после контрагента. Должность и основание печатаются на листе подписания.
signing-authority-allowed = Может подписывать от имени компании
signing-authority-basis = Основание полномочий
signing-authority-basis-example = Устав или «Доверенность № 12 от 10.01.2026»

signing-basis-charter = Устав
signing-basis-power_of_attorney = Доверенность № { $number } от { $date }
signing-basis-self = Лично
signing-method-code = Простая электронная подпись: одноразовый код, направленный на { $to }
signing-method-session = Простая электронная подпись: вход в учётную запись уполномоченного сотрудника
signing-method-edo = Квалифицированная электронная подпись через оператора ЭДО «{ $operator }»
signing-operator-diadoc = Контур.Диадок
signing-operator-sbis = СБИС

verify-title = Проверка подписанного документа
verify-hint = Загрузите PDF-файл документа или введите его SHA-256 — мы покажем, что это за документ, кто, когда и с какими полномочиями его подписал.
verify-file = PDF-файл
verify-sha = или SHA-256 файла
verify-submit = Проверить
verify-found = Документ найден
verify-missing = Документ не найден или изменён.
verify-matched = Файл
verify-matched-signed_copy = подписанный экземпляр с листом подписания
verify-matched-original = оригинал документа
verify-original-sha = SHA-256 оригинала
verify-signed-sha = SHA-256 подписанного экземпляра

flash-signing-agreement = Соглашение принято. Теперь запросите код и подпишите документ.
flash-signing-signed = Документ подписан. Он будет подписан и с нашей стороны — вы получите подписанный экземпляр.
flash-signing-rejected = Вы отказались подписать документ. Менеджер получил причину.
flash-signing-countersigned = Документ подписан со стороны компании; сторона получила подписанный экземпляр.
flash-signing-channel = Канал подписания изменён.
flash-signing-reissued = Исправленная версия отправлена на подпись.
flash-signing-sent = Документы отправлены на подпись.

error-signing-not-waiting = Документ сейчас не ждёт подписи.
error-signing-nothing-to-send = Нечего отправлять: документы ещё не сформированы или уже отправлены.
error-signing-agreement-required = Сначала примите соглашение об электронном взаимодействии.
error-signing-no-phone = В вашей учётной записи нет телефона — выберите письмо.
error-signing-no-email = В вашей учётной записи нет почты — выберите SMS.
error-signing-via-unknown = Выберите, куда прислать код.
error-signing-code-too-often = Код можно запрашивать не чаще раза в минуту и не больше пяти раз в час. Подождите и запросите снова.
error-signing-code-missing = Сначала запросите код.
error-signing-code-used = Этот код уже использован. Запросите новый.
error-signing-code-attempts = Слишком много неверных попыток. Запросите новый код.
error-signing-code-expired = Срок действия кода истёк. Запросите новый.
error-signing-code-wrong = Неверный код.
error-signing-code-format = Код — шесть цифр.
error-signing-basis-unknown = Выберите основание полномочий.
error-signing-not-signed-by-party = Документ ещё не подписан стороной или уже подписан нами.
error-signing-no-authority = У вас нет права подписи от имени компании.
error-signing-no-broker = Не найдена организация оператора.
error-signing-not-reissuable = Исправленную версию можно выпустить только для неподписанного или отклонённого документа.
error-signing-channel-unknown = Выберите канал подписания.
error-signing-channel-fixed = Канал можно менять только до подписи стороны.
error-signing-not-edo = Документ не отправляется через ЭДО.
error-signing-no-edo-box = Не указан ящик ЭДО контрагента.
error-signing-sha256-format = SHA-256 — 64 шестнадцатеричных символа.
error-signing-verify-nothing = Загрузите файл или введите SHA-256.

mail-signing-sent-subject = Документ на подпись: { $number }
mail-signing-sent-body = Здравствуйте! Вам направлен на подпись документ { $number }. Откройте его, прочитайте и подпишите кодом из SMS или письма: { $link }
mail-signing-reminder-subject = Напоминание: документ { $number } ждёт вашей подписи
mail-signing-reminder-body = Здравствуйте! Документ { $number } всё ещё ждёт вашей подписи: { $link }
mail-signing-done-subject = Документ { $number } подписан обеими сторонами
mail-signing-done-body = Здравствуйте! Документ { $number } подписан обеими сторонами. Подписанный экземпляр: { $link }
mail-signing-code-subject = Код подписи документа { $number }
mail-signing-code-body = Код для подписи документа { $number }: { $code }. Действует { $minutes } мин. Никому его не сообщайте.

order-status-signed = Оформлен
signing-correction-number = { $number }, исправление № { $n }
