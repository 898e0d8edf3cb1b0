# Workplaces: each staff role's home page, and in-app notifications.

desk-my-tasks = Мои задачи на сегодня и просроченные
desk-all-my-tasks = Все мои задачи
desk-no-tasks = На сегодня задач со сроком нет.
desk-due = срок { $at }
desk-expiring-offers = Предложения истекают в ближайшие 48 часов
desk-no-offers = Ни одно предложение не истекает в ближайшие 48 часов.
desk-valid-until = действует до { $at }
desk-rfq-rounds = Запросы КП ждут ответов
desk-no-rounds = Открытых запросов КП нет.
desk-answered = ответили { $answered } из { $invited }
desk-deadline = срок ответа { $at }
desk-today-jobs = Работы сегодня
desk-no-jobs = Сегодня работ нет.
desk-starts = начало в { $at }
desk-caller = Кто звонит
desk-today-intake = Заявки за сегодня
desk-no-intake = Сегодня заявок ещё не было.
desk-my-clients = Мои клиенты и их заявки
desk-no-clients = Клиентов пока нет.
desk-new-client = Добавить клиента
desk-requests = { $n ->
    [one] { $n } заявка
    [few] { $n } заявки
   *[many] { $n } заявок
}
desk-outbox = Уведомления, которые не ушли
desk-outbox-failed = не доставлены (попытки исчерпаны)
desk-outbox-undeliverable = без настроенного канала
desk-open-outbox = Открыть журнал уведомлений
desk-workflow-problems = Сбои процессов
desk-failed-actions = действий не выполнено
desk-retrying-actions = действий повторяются
desk-failed-timers = таймеров остановлено
desk-broken-instances = процессов с повреждёнными данными
desk-open-problems = Открыть сбои процессов
desk-sla = Просроченные задачи
desk-no-breaches = Просроченных задач нет.
desk-accountant-soon = Здесь появятся счета, оплаты клиентов и выплаты поставщикам, когда в системе появятся деньги.

analyst-window = Последние { $days } дней: { $n } заявок.
analyst-funnel = Воронка заявок
analyst-by-type = Конверсия в заказ по типу заявки
analyst-by-channel = Конверсия в заказ по каналу
analyst-time-in-state = Медианное время на этапе
    .hint = По { $n } последним переходам между этапами.
analyst-breaches = Просроченные задачи по видам
analyst-no-data = За этот период данных нет.

funnel-stage-received = Поступило
funnel-stage-matching = Подбор
funnel-stage-quotes = Получены КП
funnel-stage-offer = Предложение клиенту
funnel-stage-accepted = Принято
funnel-stage-ordered = Заказ

flash-task-done-next = Задача выполнена. Следующая задача по этой заявке.

bell-label = Уведомления
bell-unread = { $n ->
    [0] Нет новых уведомлений
    [one] { $n } новое уведомление
    [few] { $n } новых уведомления
   *[many] { $n } новых уведомлений
}
notifications-title = Уведомления
notifications-empty = Уведомлений пока нет.
notifications-read-all = Отметить все прочитанными
notifications-new = новое
notifications-open = Открыть
flash-notifications-read = Все уведомления отмечены прочитанными.
nav-notifications = Уведомления
