## Podryad — interface texts (Russian). Keys are stable identifiers used by
## templates and code; error-* keys match domain error codes
## (`inn.checksum` → `error-inn-checksum`).

app-name = Подряд
skip-to-content = Перейти к содержимому
nav-menu = Меню
nav-label = Разделы

## Navigation
nav-home = Главная
nav-users = Сотрудники
nav-outbox = Исходящие сообщения
nav-workflow-problems = Сбои процессов
nav-organisation = Организация
nav-colleagues = Пользователи организации

## Roles
role-admin = Администратор
role-hunter = Хантер
role-manager = Менеджер
role-operator = Оператор контакт-центра
role-accountant = Бухгалтер
role-analyst = Аналитик
role-owner = Владелец
role-dispatcher = Диспетчер
role-driver = Водитель / машинист
role-client = Клиент

home-role-admin = Управление пользователями, настройками и всеми процессами.
home-role-hunter = Привлечение новых клиентов и их заявки до первого заказа.
home-role-manager = Ведение клиентов, заявок и заказов.
home-role-operator = Приём заявок по телефону.
home-role-accountant = Счета, оплаты клиентов и выплаты поставщикам.
home-role-analyst = Процессы и справочники: редактирование в YAML.
home-role-owner = Данные компании, техника, сотрудники.
home-role-dispatcher = Запросы КП, предложения и назначение техники.
home-role-driver = Ваши заказы.
home-role-client = Заявки, предложения, заказы и документы.

## Actions
action-sign-in = Войти
action-sign-out = Выйти
action-to-home = На главную
action-back-to-sign-in = Вернуться ко входу
action-filter = Найти
action-create = Создать
action-cancel = Отмена
action-save = Сохранить
action-newer = Новее
action-older = Старше

## Common fields
field-email = Электронная почта
field-phone = Телефон
    .hint = Например, +7 912 345-67-89
field-inn = ИНН
field-kpp = КПП
field-ogrn = ОГРН / ОГРНИП
form-has-errors = Проверьте поля, отмеченные ниже.

## Sign-in
login-title = Вход
login-field-login = Почта или телефон
    .hint = Адрес электронной почты или номер телефона, указанный при регистрации
login-field-password = Пароль
login-forgot = Забыли пароль?
login-locked = Слишком много неудачных попыток входа. Попробуйте снова через { $minutes } мин. или восстановите пароль.
login-locked-seconds = Слишком много неудачных попыток входа. Попробуйте снова через { $seconds } с или восстановите пароль.
demo-title = Демо-доступ
demo-explain = Войдите под любой ролью одним нажатием. Пароль всех демо-пользователей — demo12345.

forgot-title = Восстановление пароля
forgot-explain = Укажите почту или телефон, и мы пришлём ссылку для установки нового пароля.
forgot-submit = Получить ссылку
forgot-sent = Если такая учётная запись есть, ссылка уже отправлена. Она действует один час.

set-password-title = Новый пароль
set-password-new = Новый пароль
    .hint = Не короче 8 символов
set-password-confirm = Повторите пароль
set-password-submit = Сохранить пароль
set-password-link-invalid = Ссылка недействительна: она устарела или уже использована.
set-password-ask-again = Запросить новую ссылку

## Flash messages
flash-signed-out = Вы вышли из системы.
flash-password-set = Пароль сохранён. Войдите с новым паролем.
flash-user-created = Пользователь создан.
flash-saved = Изменения сохранены.

## Landing and home
landing-title = Подряд — услуги спецтехники
landing-lead = Грузоперевозки, пассажирские перевозки, доставка материалов и работа спецтехники: подбираем исполнителя, оформляем документы и отвечаем за результат.
home-title = Главная
home-greeting = Здравствуйте, { $name }!
driver-jobs-title = Мои заказы
driver-jobs-empty = Назначенных заказов пока нет. Диспетчер передаст заказ, и он появится здесь.
driver-jobs-hint = Заказы, в которых клиент выбрал ваше КП с вами за рулём. Точный адрес и контакт на объекте придут с подписанным заказом.
driver-job-days = с { $from } по { $until }

## Users
users-title = Сотрудники
users-add = Добавить сотрудника
users-search = Имя, почта или телефон
users-role = Роль
users-any-role = Любая роль
users-name = ФИО
users-login = Логин
users-roles = Роли
users-status = Статус
users-last-login = Последний вход
users-created = Создан
users-empty = Пользователей не найдено.
users-password = Пароль
    .hint = Оставьте пустым — сотрудник получит ссылку-приглашение и задаст пароль сам.
user-status-active = Активен
user-status-invited = Приглашён
user-status-disabled = Отключён

## Organisations
org-kind-broker = Наша компания
org-kind-supplier = Поставщик
org-kind-client = Клиент
legal-form-ooo = ООО
legal-form-ao = АО
legal-form-pao = ПАО
legal-form-ip = ИП
legal-form-self_employed = Самозанятый
legal-form-person = Физическое лицо
org-status-active = Активна
org-status-pending = На проверке
org-status-approved = Одобрен
org-status-rejected = Отклонён
org-status-changes_requested = Требуются исправления
org-status-suspended = Приостановлен
org-people = Пользователи
org-people-empty = Пользователей нет.
account-title = Мой профиль
account-org = Организация
account-change-password = Сменить пароль
account-notifications = Уведомления
account-notifications-how = Уведомления приходят на e-mail (если его нет — SMS на телефон). Подключите Telegram, чтобы получать их и там: запросы КП, задачи, напоминания.
account-telegram = Telegram: ID чата
account-telegram-hint = Узнайте ID своего чата у бота @userinfobot и вставьте сюда. Оставьте поле пустым, чтобы отключить Telegram.
account-telegram-linked = Telegram подключён (чат { $chat }).
account-telegram-connect = Подключить Telegram
account-telegram-link-how = Откройте ссылку в Telegram и нажмите «Запустить» (Start) в чате с ботом. Ссылка действует сутки и только для вас.
account-telegram-open = Открыть @{ $bot }
account-telegram-or = Или укажите ID чата вручную:
mail-telegram-linked-subject = Подряд: Telegram подключён
mail-telegram-linked-body = Готово: уведомления о запросах, задачах и напоминаниях будут приходить сюда. Отключить можно в профиле.
mail-telegram-link-invalid-subject = Подряд: ссылка не сработала
mail-telegram-link-invalid-body = Ссылка устарела или уже использована. Откройте профиль в Подряде и нажмите «Подключить Telegram» ещё раз.
flash-telegram-linked = Telegram подключён: уведомления будут приходить и туда.
flash-telegram-unlinked = Telegram отключён.
error-telegram-chat-id = ID чата — это число из 5–20 цифр (у групп — со знаком «−» в начале).

## Outbox
outbox-title = Исходящие сообщения
outbox-explain = Все письма, SMS и сообщения Telegram, которые отправляет система. Если канал не настроен, сообщение остаётся здесь. Одноразовые ссылки (сброс пароля, приглашения, предложения) скрыты знаком ••••: они только для получателя.
outbox-recipient = Получатель
outbox-empty = Сообщений нет.
outbox-no-transport = Не отправлено: для этого канала не настроена отправка. Сообщение хранится здесь.
channel-email = Почта
channel-sms = SMS
channel-telegram = Telegram
notification-status-queued = В очереди
notification-status-sent = Отправлено
notification-status-failed = Ошибка
notification-status-undeliverable = Канал не настроен

## Workflow problems (administrators)
problems-title = Сбои процессов
problems-explain = Что не смогли сделать фоновые исполнители процессов. Такие действия и таймеры отложены и не мешают остальным: они ждут здесь вас. Устраните причину (например, настройку внешней системы или данные экземпляра) и нажмите «Повторить».
problems-count-failed_actions = Действия с ошибкой
problems-count-retrying_actions = Действия повторяются
problems-count-failed_timers = Таймеры с ошибкой
problems-count-broken_instances = Повреждённые экземпляры
problems-last = последний сбой { $at }
problems-empty = Сбоев нет: все действия и таймеры выполняются.
problems-none = Нет.
problems-failed-actions = Действия с ошибкой
problems-failed-actions-explain = Все попытки исчерпаны или действие не может выполниться (экземпляр удалён, параметры повреждены). Повтор выполнит его снова с тем же ключом идемпотентности.
problems-retrying-actions = Действия, которые повторяются
problems-retrying-actions-explain = Ошибка была, но попытки ещё не исчерпаны: следующая будет выполнена автоматически. Следующие действия того же экземпляра ждут.
problems-failed-timers = Таймеры с ошибкой
problems-failed-timers-explain = Таймер не удалось выполнить. После последней попытки он отложен; остальные таймеры работают.
problems-broken-instances = Повреждённые экземпляры
problems-broken-instances-explain = Сохранённые данные экземпляра не читаются. Система не перезаписывает их; исправьте данные — таймеры экземпляра можно будет повторить.
problems-action = Действие
problems-timer = Таймер
problems-workflow = Процесс
problems-instance = Экземпляр
problems-object = Объект
problems-instance-gone = экземпляр удалён
problems-state = Состояние
problems-attempts = Попыток
problems-error = Ошибка
problems-when = Когда
problems-next-attempt = Следующая попытка
problems-due = срок { $at }
problems-timer-state = Статус
problems-timer-parked = Отложен
problems-timer-retrying = Повторяется
problems-retry = Повторить
flash-action-retried = Действие поставлено в очередь снова.
flash-timer-retried = Таймер будет выполнен снова.
error-action-not-failed = Это действие уже не в ошибке: его повторили или оно выполнилось.
error-action-instance-gone = Экземпляр процесса удалён: повторять действие некуда.
error-action-failure-handled = Процесс уже обработал эту ошибку (перешёл по ветке «.failed»): повтор выполнил бы то, чего процесс больше не ждёт.
error-timer-not-failed = Этот таймер уже не отложен: его повторили или он сработал.

## Pages of a long list (_pager.html)
pager-label = Страницы списка
pager-page = Страница { $page }
pager-previous = ← Предыдущая
pager-next = Следующая →

## Error pages
error-title-400 = Неверный запрос
error-title-401 = Требуется вход
error-title-403 = Доступ запрещён
error-title-404 = Страница не найдена
error-title-409 = Действие невозможно
error-title-410 = Ссылка устарела
error-title-413 = Слишком большой запрос
error-title-415 = Неверный формат запроса
error-title-422 = Проверьте данные
error-title-429 = Слишком много запросов
error-title-500 = Ошибка на сервере
error-page-not_found = Такой страницы нет или у вас нет к ней доступа.
error-page-unauthorized = Войдите в систему, чтобы продолжить.
error-page-forbidden = У вашей роли нет доступа к этому разделу.
error-page-csrf = Страница устарела. Обновите её и повторите действие.
error-page-invalid = Данные заполнены с ошибками.
error-page-too_many_requests = Слишком много запросов. Подождите и попробуйте снова.
error-request-malformed = В адресе или в данных запроса ошибка: например, вместо номера стоит текст. Проверьте ссылку.
error-page-internal = Что-то пошло не так. Мы уже знаем об ошибке; попробуйте позже.
error-retry-in = Повторите через { $minutes } мин.

## Error codes from the domain
error-generic = Неверное значение.
error-text-control-chars = В тексте есть недопустимые управляющие символы (например, нулевой байт). Уберите их и отправьте форму ещё раз.
error-required = Обязательное поле.
error-email-invalid = Неверный адрес электронной почты.
error-phone-invalid = Неверный номер телефона: нужен российский номер из 10 цифр после +7.
error-login-email-or-phone-required = Укажите почту или телефон.
error-login-invalid = Неверный логин или пароль.
error-login-throttled = Слишком много неудачных попыток входа. Подождите и попробуйте снова.
error-login-disabled = Учётная запись отключена. Обратитесь к администратору.
error-login-not-email-or-phone = Укажите адрес электронной почты или номер телефона.
error-role-invalid = Недопустимая роль.
error-role-required = Выберите хотя бы одну роль.
error-password-too-short = Пароль должен быть не короче 8 символов.
error-password-mismatch = Пароли не совпадают.
error-email-taken = Эта почта уже используется.
error-phone-taken = Этот телефон уже используется.
error-link-invalid = Ссылка недействительна.
error-status-invalid = Недопустимый статус.
error-user-last-admin = Нельзя снять роль или отключить последнего администратора.
error-legal-form-invalid = Неизвестная организационно-правовая форма.

## Messages sent by e-mail / SMS
mail-invite-subject = Приглашение в «Подряд»
mail-invite-body =
    Здравствуйте, { $name }!

    Для вас создана учётная запись в системе «Подряд». Чтобы задать пароль и войти, откройте ссылку (она действует 7 дней):
    { $link }
mail-reset-subject = Восстановление пароля в «Подряд»
mail-reset-body =
    Здравствуйте, { $name }!

    Чтобы задать новый пароль, откройте ссылку (она действует один час):
    { $link }

    Если вы не запрашивали восстановление, просто проигнорируйте это сообщение.
landing-register-client = Стать клиентом
landing-register-supplier = Стать поставщиком
