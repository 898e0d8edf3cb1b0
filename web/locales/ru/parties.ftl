## Suppliers, clients, registration, profile, employees.

nav-suppliers = Поставщики
nav-clients = Клиенты
nav-profile = Профиль компании
nav-garage = Гараж
nav-employees = Сотрудники
nav-rfqs = Запросы КП
nav-quotes = Мои КП
nav-orders = Заказы
nav-contacts = Контактные лица

action-continue = Продолжить
action-delete = Удалить
action-add = Добавить
action-export-xlsx = Выгрузить в Excel

register-title-supplier = Регистрация поставщика
register-title-client = Регистрация клиента
register-lead-supplier = Зарегистрируйте компанию, чтобы получать от нас заявки на услуги вашей техники. После подтверждения почты менеджер проверит реквизиты, обычно в течение рабочего дня.
register-lead-client = Зарегистрируйтесь, чтобы заказывать услуги спецтехники и следить за заказами. Частному лицу достаточно имени, телефона и почты; реквизиты для договора понадобятся при первом заказе.
register-section-account = Учётная запись
register-person-name = Ваше ФИО
    .hint-supplier = Вы станете владельцем кабинета: добавите технику и сотрудников.
    .hint-client = Под этим именем вы будете входить в кабинет.
register-consent = Согласен на обработку персональных данных (152-ФЗ)
register-submit-supplier = Отправить заявку
register-submit-client = Зарегистрироваться
registered-title = Почти готово
registered-check-mail = Мы отправили письмо на { $email }. Откройте ссылку из письма, чтобы подтвердить адрес.
registered-supplier-next = После подтверждения заявка уйдёт на проверку; статус виден в кабинете.
registered-client-next = Войдите, чтобы оставить заявку.
confirmed-title = Почта подтверждена
confirmed-text = Спасибо! Адрес подтверждён.

company-section-identity = Компания
company-section-bank = Банковские реквизиты
company-section-contacts = Контакты
company-legal-form = Организационно-правовая форма
company-inn =
    .hint = 10 цифр у организации, 12 — у ИП и самозанятого; частному лицу можно не указывать
company-lookup = Заполнить по ИНН
company-lookup-filled = Данные из реестра подставлены в пустые поля — проверьте их.
company-lookup-not-found = В реестре компания с таким ИНН не найдена; заполните поля вручную.
company-lookup-not-configured = Автозаполнение по ИНН не подключено; заполните поля вручную.
company-lookup-unavailable = Реестр сейчас не отвечает; заполните поля вручную.
company-name = Полное наименование
    .hint = Как в выписке ЕГРЮЛ/ЕГРИП, например: Общество с ограниченной ответственностью «Ромашка»
company-short-name = Краткое наименование
company-kpp =
    .hint = 9 знаков; обязателен для ООО, АО и ПАО, у ИП и частных лиц его нет
company-ogrn =
    .hint = ОГРН — 13 цифр, ОГРНИП — 15 цифр; обязателен для организаций и ИП
company-director = Руководитель
company-director-post = Должность руководителя
company-legal-address = Юридический адрес
company-postal-address = Почтовый адрес
company-region = Регион
    .hint = Например: Московская область
company-bik = БИК банка
company-bank-name = Банк
company-account = Расчётный счёт
company-corr-account = Корреспондентский счёт
company-bank-optional = Можно заполнить позже — реквизиты понадобятся для договора.
company-vat = Режим НДС
    .hint = С 2026 года основная ставка НДС — 22 %
company-contact-name = Контактное лицо
company-details = Реквизиты
company-history = История изменений
company-history-empty = Реквизиты не менялись.
company-field-legal_form = Форма
company-field-name = Наименование
company-field-short_name = Краткое наименование
company-field-inn = ИНН
company-field-kpp = КПП
company-field-ogrn = ОГРН
company-field-legal_address = Юридический адрес
company-field-postal_address = Почтовый адрес
company-field-region = Регион
company-field-bank_name = Банк
company-field-bik = БИК
company-field-settlement_account = Расчётный счёт
company-field-corr_account = Корр. счёт
company-field-vat_mode = НДС
company-field-director_name = Руководитель
company-field-director_post = Должность руководителя
company-field-contact_name = Контактное лицо
company-field-phone = Телефон
company-field-email = Почта

vat-none = Без НДС
vat-vat0 = НДС 0 %
vat-vat5 = НДС 5 %
vat-vat7 = НДС 7 %
vat-vat10 = НДС 10 %
vat-vat20 = НДС 20 %
vat-vat22 = НДС 22 %

org-status-unconfirmed = Почта не подтверждена

profile-title = Профиль компании
profile-edit = Изменить реквизиты
profile-moderation-warning = Изменение юридических или банковских реквизитов отправит компанию на повторную проверку; пока она идёт, новые заявки не приходят.
supplier-status-explain-unconfirmed = Подтвердите почту по ссылке из письма — после этого заявка уйдёт на проверку.
supplier-status-explain-pending = Менеджер проверяет реквизиты. Мы сообщим о решении по почте.
supplier-status-explain-approved = Вы подключены и получаете запросы на услуги техники.
supplier-status-explain-rejected = Заявка отклонена. Вы можете исправить реквизиты — они уйдут на повторную проверку.
supplier-status-explain-changes_requested = Менеджер просит исправить заявку. Измените реквизиты и отправьте на проверку.
supplier-status-explain-suspended = Работа приостановлена: новые запросы не приходят. Свяжитесь с нами.
supplier-status-reason = Комментарий
supplier-resubmit = Отправить на проверку
supplier-suspend = Приостановить
supplier-suspend-reason = Причина приостановки
supplier-unsuspend = Возобновить работу
flash-nothing-changed = Изменений нет.
flash-sent-to-moderation = Реквизиты сохранены и отправлены на проверку.
flash-resubmitted = Заявка отправлена на проверку.
flash-deleted = Удалено.
flash-supplier-suspended = Поставщик приостановлен.
flash-supplier-unsuspended = Работа поставщика возобновлена.

contacts-title = Контактные лица
contacts-position = Должность
contacts-empty = Контактных лиц пока нет.
contacts-add = Добавить контактное лицо
contacts-delete-confirm = Удалить контактное лицо?

directory-title-supplier = Поставщики
directory-title-client = Клиенты
directory-search = Название, ИНН, телефон или почта
directory-any-status = Любой статус
directory-category = Вид техники
directory-any-category = Любая техника
directory-machines = Техники
directory-empty = Ничего не найдено.
card-workflows = Процессы


employees-title = Сотрудники
employees-add = Добавить сотрудника
employees-role = Роль
employees-licence = Категории прав
    .hint = Через запятую, например: B, C, CE
employees-operator-licence = Удостоверение тракториста-машиниста
    .hint = Номер и категории, например: 77 АВ 123456, кат. C, D, E
employees-email =
    .hint = Необязательно; на почту придёт приглашение, иначе — SMS
employees-photo = Фото
employees-login = Вход в систему
employees-has-login = Есть
employees-no-login = Не приглашён
employees-invite = Пригласить в систему
employees-archive = В архив
employees-archive-confirm = Перенести сотрудника в архив? Его вход будет отключён.
employees-empty = Сотрудников пока нет. Добавьте диспетчеров и водителей.
flash-employee-added = Сотрудник добавлен.
flash-employee-invited = Приглашение отправлено.
flash-employee-archived = Сотрудник перенесён в архив.
flash-joined = Учётная запись создана. Войдите.
join-title = Приглашение
join-text = { $name }, вас пригласили в кабинет компании «{ $org }» с ролью «{ $role }». Задайте пароль.
join-login = Логин для входа: { $login }
join-submit = Создать учётную запись

error-inn-needs-12 = Для ИП и самозанятого нужен ИНН из 12 цифр.
error-inn-needs-10 = Для организации нужен ИНН из 10 цифр.
error-inn-length = ИНН должен содержать 10 или 12 цифр.
error-inn-format = ИНН состоит только из цифр.
error-inn-checksum = Неверный ИНН: не сходится контрольная сумма.
error-inn-empty = Укажите ИНН.
error-inn-already-registered = Компания с этим ИНН уже зарегистрирована. Войдите в её кабинет или восстановите пароль.
error-inn-cannot-change = ИНН изменить нельзя: другая компания регистрируется заново.
error-kpp-length = КПП состоит из 9 знаков.
error-kpp-format = Неверный формат КПП: 4 цифры, 2 цифры или латинские буквы, 3 цифры.
error-kpp-not-for-person = У ИП и физических лиц нет КПП.
error-ogrn-length = ОГРН — 13 цифр, ОГРНИП — 15 цифр.
error-ogrn-format = ОГРН состоит только из цифр.
error-ogrn-prefix = ОГРН начинается с 1 или 5, ОГРНИП — с 3.
error-ogrn-checksum = Неверный ОГРН: не сходится контрольная цифра.
error-bik-length = БИК состоит из 9 цифр.
error-bik-format = БИК состоит только из цифр.
error-bik-prefix = Российский БИК начинается с 04.
error-account-length = Счёт состоит из 20 цифр.
error-account-format = Счёт состоит только из цифр.
error-account-checksum = Неверный номер счёта.
error-account-key-mismatch = Расчётный счёт не сходится с БИК: проверьте оба значения.
error-corr-length = Корреспондентский счёт состоит из 20 цифр.
error-corr-format = Корреспондентский счёт состоит только из цифр.
error-corr-prefix = Корреспондентский счёт начинается с 30101.
error-corr-bik-mismatch = Последние три цифры корр. счёта должны совпадать с последними цифрами БИК.
error-corr-checksum = Корреспондентский счёт не сходится с БИК.
error-vat-invalid = Выберите режим НДС.
error-vat-self-employed-no-vat = Самозанятый работает без НДС.
error-consent-required = Нужно согласие на обработку персональных данных.
error-contact-phone-or-email-required = Укажите телефон или почту.
error-application-not-awaiting-changes = Заявка сейчас не ожидает исправлений.
error-supplier-status-not-allowed = В текущем статусе это действие недоступно.
error-licence-unknown-category = Неизвестная категория прав. Допустимы: A, A1, B, B1, BE, C, C1, CE, C1E, D, D1, DE, D1E, M, Tm, Tb.
error-licence-driver-needs-licence = Для водителя укажите категории прав или удостоверение машиниста.
error-employee-owner-is-edited-in-profile = Данные владельца меняются в профиле.
error-employee-owner-cannot-be-archived = Владельца нельзя перенести в архив.
error-employee-already-has-login = У сотрудника уже есть учётная запись.
error-employee-login-taken = Почта или телефон сотрудника уже заняты другой учётной записью. Попросите владельца исправить карточку.
error-file-empty = Файл пустой.
error-file-too-large = Файл слишком большой.
error-file-not-an-image = Нужна фотография в формате JPEG, PNG или WebP.
error-file-not-image-or-pdf = Нужен скан в формате PDF, JPEG или PNG.
error-file-not-a-spreadsheet = Нужна таблица в формате XLSX или CSV.
error-upload-too-large = Файл слишком большой.
error-form = Форма заполнена неверно.
error-number-integer = Нужно целое число.
error-number-invalid = Нужно число.
error-number-too-small = Значение меньше допустимого.
error-number-too-large = Значение больше допустимого.
error-boolean-invalid = Нужно «да» или «нет».
error-choice-invalid = Выберите значение из списка.

mail-confirm-subject = Подтвердите почту в «Подряд»
mail-confirm-body =
    Здравствуйте, { $name }!

    Чтобы подтвердить адрес электронной почты, откройте ссылку (она действует 3 дня):
    { $link }
mail-registration-taken-subject = Попытка регистрации с вашим адресом в «Подряд»
mail-registration-taken-body =
    Здравствуйте, { $name }!

    Кто-то пытался зарегистрироваться в «Подряд» с вашим адресом. У вас уже есть учётная запись, новая не создана.
    Если это были вы и забыли пароль, восстановите его:
    { $link }
    Если это были не вы, просто проигнорируйте это письмо.
mail-moderation-approved-subject = Ваша компания подключена к «Подряд»
mail-moderation-approved-body =
    Здравствуйте, { $name }!

    Мы проверили реквизиты — вы подключены и будете получать запросы на услуги техники. Добавьте технику и сотрудников в кабинете:
    { $link }
mail-moderation-rejected-subject = Заявка на подключение отклонена
mail-moderation-rejected-body =
    Здравствуйте, { $name }!

    К сожалению, мы не можем подключить вашу компанию. Причина: { $reason }
    Кабинет: { $link }
mail-moderation-changes_requested-subject = Исправьте заявку на подключение
mail-moderation-changes_requested-body =
    Здравствуйте, { $name }!

    Менеджер просит исправить заявку: { $reason }
    Исправьте реквизиты в кабинете и отправьте на проверку:
    { $link }
mail-moderation-suspended-subject = Работа приостановлена
mail-moderation-suspended-body =
    Здравствуйте, { $name }!

    Работа вашей компании в «Подряд» приостановлена. { $reason }
mail-employee-invite-subject = Приглашение в кабинет «{ $org }»
mail-employee-invite-body =
    Здравствуйте, { $name }!

    Вас пригласили в кабинет компании «{ $org }» в системе «Подряд». Чтобы задать пароль, откройте ссылку (она действует 7 дней):
    { $link }
card-open-garage = Открыть гараж
home-supplier-fix = Исправить заявку
home-supplier-machines = машин в гараже
home-supplier-add-machines = Добавьте технику, чтобы получать запросы
home-supplier-employees = диспетчеров и водителей
home-supplier-rfqs = Запросы на услуги вашей техники
home-supplier-rfqs-waiting = Ждут вашего ответа — успейте до срока
home-supplier-profile = Реквизиты, статус проверки, история изменений
home-client-profile = Реквизиты компании или ваши данные
home-client-contacts = Кто принимает технику на объекте
home-client-offers = Наши предложения по вашим заявкам
home-client-offers-waiting = { $count ->
    [one] Вас ждёт { $count } предложение
    [few] Вас ждут { $count } предложения
   *[many] Вас ждут { $count } предложений
}
home-client-offer-until = действует до { $until }
