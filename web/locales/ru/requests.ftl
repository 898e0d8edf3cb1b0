## Requests and intake (issue 5): the public form, the contact centre,
## hunters, the client cabinet, request lists and pages, the intake report.

## Navigation
nav-requests = Заявки
nav-intake = Приём звонка
nav-hunter-clients = Мои клиенты
nav-intake-report = Отчёт по заявкам

## Channels
channel-website = Сайт
channel-operator = Контакт-центр
channel-hunter = Хантер
channel-cabinet = Кабинет клиента
channel-api = API

## Statuses
request-status-new = Новая
request-status-qualification = Уточнение
request-status-ready_for_matching = Подбор поставщиков
request-status-rfq = Запрос КП
request-status-no_quotes = Нет КП
request-status-quote_review = Выбор КП
request-status-offer_approval = Предложение на согласовании
request-status-offer_sent = Предложение у клиента
request-status-machine_booked = Машина занята — нужна другая
request-status-offer_declined = Клиент отказался
request-status-offer_expired = Срок предложения истёк
request-status-accepted = Принято — к договору
request-status-ordered = Заказ в работе
request-status-cancelled = Отменена
request-client-label-new = Новая
request-client-label-qualification = Уточняем
request-client-label-ready_for_matching = Подбираем
request-client-label-rfq = Подбираем
request-client-label-no_quotes = Подбираем
request-client-label-quote_review = Готовим предложение
request-client-label-offer_approval = Готовим предложение
request-client-label-offer_sent = Ждёт вашего ответа
request-client-label-machine_booked = Подбираем другую машину
request-client-label-offer_declined = Вы отказались
request-client-label-offer_expired = Срок предложения истёк
request-client-label-accepted = Принято
request-client-label-ordered = Заказ в работе
request-client-label-cancelled = Отменена
request-client-status-new = Мы получили заявку и скоро свяжемся с вами.
request-client-status-qualification = Менеджер уточняет детали заявки.
request-client-status-ready_for_matching = Подбираем исполнителя и готовим предложение.
request-client-status-rfq = Подбираем исполнителя и готовим предложение.
request-client-status-no_quotes = Подбираем исполнителя и готовим предложение.
request-client-status-quote_review = Готовим для вас предложение.
request-client-status-offer_approval = Готовим для вас предложение.
request-client-status-offer_sent = Мы отправили вам предложение: посмотрите и ответьте до окончания срока.
request-client-status-machine_booked = Машину на эти дни уже заняли. Менеджер подберёт другую и пришлёт новое предложение.
request-client-status-offer_declined = Вы отказались от предложения. Менеджер свяжется с вами.
request-client-status-offer_expired = Срок предложения истёк. Менеджер свяжется с вами.
request-client-status-accepted = Вы приняли предложение. Готовим договор и заказ.
request-client-status-ordered = Заказ в работе.
request-client-status-cancelled = Заявка отменена.

## Time zones of a site
tz-europe-kaliningrad = Калининград (МСК−1)
tz-europe-moscow = Москва (МСК)
tz-europe-samara = Самара (МСК+1)
tz-asia-yekaterinburg = Екатеринбург (МСК+2)
tz-asia-omsk = Омск (МСК+3)
tz-asia-krasnoyarsk = Красноярск (МСК+4)
tz-asia-irkutsk = Иркутск (МСК+5)
tz-asia-yakutsk = Якутск (МСК+6)
tz-asia-vladivostok = Владивосток (МСК+7)
tz-asia-magadan = Магадан (МСК+8)
tz-asia-kamchatka = Камчатка (МСК+9)
# Any other zone, by its shift from Moscow time (+2, −1, +5:30).
tz-other = МСК{ $shift }

## The request form
request-lat = Широта
request-lon = Долгота
request-timezone = Часовой пояс
request-when = Когда и подробности
request-wanted-from = Дата и время начала
    .hint = Местное время на объекте.
requests-wanted = Когда нужно
request-wanted-to = Окончание (если нужно окно)
    .hint = Необязательно: до какого времени можно начать или закончить.
request-duration-hours = Продолжительность, часов
request-duration-shifts = Количество смен
request-comment = Комментарий
request-attachments = Вложения
    .hint = Фото, схемы, документы: JPEG, PNG, WebP или PDF, до 15 МБ каждый, не больше 10 файлов.
request-contact = Контактное лицо
request-contact-name = Имя
request-contact-email =
    .hint = Пришлём подтверждение с номером заявки.
request-company-name = Название компании
request-inn =
    .hint = Если знаете: 10 цифр для организации, 12 для ИП.
request-honeypot = Не заполняйте это поле
request-yes = Да
request-no = Нет

## The public form
order-title = Оставить заявку
order-lead = Выберите, что нужно сделать, — мы подберём технику и исполнителя и пришлём предложение.
order-form-lead = Заполните заявку — менеджер свяжется с вами, уточнит детали и пришлёт предложение.
order-company = Компания
    .hint = Если заказываете для организации. Частным лицам заполнять не нужно.
order-consent = Отправляя заявку, вы соглашаетесь на обработку персональных данных для её выполнения.
order-submit = Отправить заявку
order-done-title = Заявка принята
order-done-number = Номер вашей заявки:
order-done-no-number = Номер заявки пришёл в письме или SMS на указанный контакт.
order-done-next = Менеджер свяжется с вами в рабочее время, уточнит детали и пришлёт предложение.
order-done-sent = Подтверждение с номером отправлено: { $to }.
order-another = Оставить ещё одну заявку
order-embed-by = Заявка через сервис «Подряд»
public-request-received = Заявка { $number } принята. Менеджер свяжется с вами в рабочее время.

## Lists
requests-title = Заявки
requests-my-title = Мои заявки
requests-scope = Какие заявки
requests-mine = Мои
requests-all = Все
requests-search = Номер, телефон, компания или ИНН
requests-search-everywhere = Поиск идёт по всем заявкам, которые вам доступны.
requests-type = Вид заявки
requests-any-type = Любой вид
requests-status = Статус
requests-any-status = Любой статус
requests-channel = Канал
requests-any-channel = Любой канал
requests-from = с
requests-to = по
requests-created = Создана
requests-empty = Заявок не найдено.
requests-my-empty = Заявок пока нет. Оставьте первую — это займёт пару минут.
requests-new = Новая заявка
requests-new-lead = Выберите, что нужно сделать.

## The request page
request-title = Заявка { $number }
request-number = Номер
request-site = Адрес
request-what = Что нужно
request-client = Клиент
request-who = Кто ведёт
request-owner = Ответственный
request-hunter = Хантер
request-created-by = Принял(а)
request-created-by-visitor = Посетитель сайта
request-workflow = Этап
request-history = История
request-current-task = Текущая задача
request-task-due = срок
request-task-overdue = просрочена
request-task-escalated = передана администраторам
request-no-files = Вложений нет.
request-edit = Дополнить заявку
request-edit-title = Заявка { $number }: уточнение

## Contact centre
intake-title = Приём звонка
intake-lookup = Телефон, название или ИНН
    .hint = Наберите номер звонящего — покажем его компанию, историю заявок, открытые заявки и ответственного менеджера.
intake-find = Найти
intake-new-call = Принять звонок
intake-open-requests = Открытых заявок
intake-history = Последние заявки
intake-new-request = Новая заявка
intake-not-found = По этому запросу клиентов нет.
intake-new-client = Новый клиент
    .hint = Клиент будет создан вместе с заявкой; ответственный менеджер назначается сразу.
intake-company =
    .hint = Оставьте пустым для частного лица.
intake-submit = Создать заявку

## Clients and ownership
client-ownership = Кто ведёт клиента
client-open-ownership = Заявки и ответственный
client-card-details = Реквизиты и контакты
client-manager = Ответственный менеджер
client-next-manager = Менеджер после первого заказа
client-first-order = Первый заказ
client-no-first-order = Ещё не было
client-acquisition = Пришёл через
client-rule-with-hunter = Пока первый заказ не запущен в работу, заявки клиента ведёт хантер. Затем клиента принимает ответственный менеджер — выбранный администратором или наименее загруженный.
client-rule-with-manager = Заявки и заказы клиента ведёт ответственный менеджер; хантер, приведший клиента, сохраняется в отчётах.
client-choose-manager = Ответственный менеджер
client-choose-manager-planned = Менеджер, который примет клиента после первого заказа
client-least-loaded = Наименее загруженный

## Hunters
hunter-clients-title = Мои клиенты
hunter-add-client = Добавить клиента
    .lead = Компания или частное лицо, которого вы привели. Его заявки ведёте вы, пока первый заказ не запущен в работу.
hunter-requests = Заявок
hunter-open = открытых: { $n }
hunter-yours = ведёте вы
hunter-handed-over = передан менеджеру
hunter-clients-empty = Клиентов пока нет. Добавьте первого.

## Report
report-title = Заявки и конверсия
report-explain = Заявки за период; клиенты — разные клиенты с заявками за период; первые заказы — те из них, чей первый заказ запущен в работу в этом периоде; конверсия — доля таких клиентов.
report-by-channel = По каналам
report-by-hunter = По хантерам
report-requests = Заявок
report-clients = Клиентов
report-first-orders = Первых заказов
report-conversion = Конверсия
report-total = Всего
report-no-hunters = Заявок от хантеров за период нет.

## Flash messages
flash-request-created = Заявка создана.
flash-manager-planned = Менеджер примет клиента, когда первый заказ будет запущен в работу.
flash-manager-assigned = Ответственный менеджер назначен; открытые заявки переданы ему.
flash-client-added = Клиент добавлен в ваш список.

## Messages to the client
mail-request-received-subject = Заявка { $number } принята
mail-request-received-body =
    Здравствуйте!

    Мы получили вашу заявку «{ $type }», её номер — { $number }. Менеджер свяжется с вами в рабочее время, уточнит детали и пришлёт предложение.

    «Подряд»
sms-request-received = Подряд: заявка { $number } принята. Менеджер свяжется с вами.

## Errors
error-request-type-unknown = Такого вида заявки нет.
error-attachments-too-many = Не больше 10 файлов.
error-spam-honeypot = Заявка похожа на автоматическую и не принята. Если это ошибка, позвоните нам.
error-captcha-failed = Проверка «я не робот» не пройдена. Попробуйте ещё раз.
error-json-type = Значение не того типа.
error-field-unknown = Такого поля нет.
error-json-not-an-object = Тело запроса должно быть объектом JSON.
error-json-invalid = Тело запроса — не JSON.
error-body-too-large = Запрос слишком большой.
error-content-type-unsupported = Нужен Content-Type: application/json.
error-client-not-yours = Этого клиента ведёт другой сотрудник.
error-manager-invalid = Выберите действующего менеджера.
error-request-not-editable = Заявку уже нельзя изменить: уточнение завершено.
error-date-in-past = Дата уже прошла.
error-datetime-invalid = Укажите дату и время.
error-date-before-start = Окончание должно быть позже начала.
error-duration-invalid = Укажите положительное число.
error-timezone-invalid = Неизвестный часовой пояс.
error-validation = Проверьте данные.
request-matching-title = Подбор и КП
request-open-matching = Подбор поставщиков
request-open-quotes = КП и предложение клиенту
request-client-see-offers = Наши предложения

# A public request that matched a client without proof (issue 10).
client-match-title = Клиент не подтверждён
client-match-why = Заявка с сайта совпала с клиентом «{ $client }» по { $by }, но не всё, что указал посетитель, записано у этого клиента.
client-match-by-inn = ИНН
client-match-by-phone = телефону
client-match-by-email = e-mail
client-match-typed = Посетитель указал
client-match-inn = ИНН
client-match-hold = Пока вы не решите, чья это заявка, клиент не видит её в кабинете, а предложение по ней отправить нельзя.
client-match-confirm = Это этот клиент
client-match-split = Это другой клиент
client-match-hint = «Это этот клиент» — контакты из заявки добавятся клиенту, и заявка пойдёт как его. «Это другой клиент» — из указанных данных будет создан новый клиент, и заявка перейдёт к нему. Если сомневаетесь, позвоните клиенту по записанному у него телефону.
client-match-open = Решить на странице заявки
client-match-decision = Совпадение с клиентом
client-match-decided-confirmed = Подтверждено: это «{ $client }»
client-match-decided-split = Другой клиент (не «{ $client }»)
flash-client-confirmed = Клиент подтверждён: контакты из заявки добавлены клиенту.
flash-client-split = Создан новый клиент, заявка перенесена к нему.
error-request-client-unconfirmed = Клиент заявки не подтверждён: предложение отправить нельзя. Сначала решите на странице заявки, тот ли это клиент.
error-request-client-already-decided = По этой заявке уже решили, чей это клиент.
