## Task inbox, workflows, instances.

nav-tasks = Задачи
nav-workflows = Процессы

inbox-title = Задачи
inbox-filters = Отбор задач
inbox-all = Все
inbox-mine = Мои
inbox-overdue = Просроченные
inbox-search = Поиск по названию
inbox-workflow = Процесс
inbox-any-workflow = Любой процесс
inbox-priority = Приоритет
inbox-any-priority = Любой приоритет
inbox-task = Задача
inbox-due = Срок
inbox-who = Исполнитель
inbox-claimed-by-me = Я
inbox-claimed = Взята другим
inbox-overdue-mark = просрочена
inbox-empty = Задач нет. Новые задачи появятся здесь.
priority-low = Низкий
priority-normal = Обычный
priority-high = Высокий
priority-urgent = Срочный
action-claim = Взять
action-unclaim = Вернуть в общий список
task-status-open = Открыта
task-status-done = Выполнена
task-status-cancelled = Отменена
task-open-object = Открыть объект
task-open-instance = Ход процесса
task-not-yours = Эту задачу выполняет другой сотрудник или другая роль.
task-completed-with = Задача выполнена с результатом
task-field-required-for = Обязательно для:
flash-task-claimed = Задача за вами.
flash-task-unclaimed = Задача возвращена в общий список.
flash-task-done = Задача выполнена.
yes = Да

error-task-closed = Задача уже выполнена или отменена.
error-task-unknown-outcome = Неизвестный результат задачи.
error-workflow-not-accepted = Процесс сейчас не может принять это действие.
error-workflow-finished = Процесс уже завершён.
error-workflow-busy = Процесс одновременно изменяют; повторите действие.
error-workflow-not-allowed = Задачу сейчас ведёт другой сотрудник или она назначена не вам.
error-task-claimed-by-other = Задачу уже взял другой сотрудник.
error-task-not-claimed-by-you = Эта задача сейчас не за вами.
error-workflow-action-refused = Процесс отклонил действие: условия изменились. Обновите страницу.

error-form-required = Обязательное поле.
error-form-too-small = Значение меньше допустимого ({ $limit }).
error-form-too-large = Значение больше допустимого ({ $limit }).
error-form-too-short = Слишком коротко: не меньше { $limit } символов.
error-form-too-long = Слишком длинно: не больше { $limit } символов.
error-form-pattern = Значение не подходит по формату.
error-form-not-an-option = Выберите значение из списка.
error-form-not-an-integer = Нужно целое число.
error-form-not-a-number = Нужно число.
error-form-not-money = Нужна сумма, например 15 000,50.
error-form-not-a-boolean = Нужно «да» или «нет».
error-form-not-a-date = Нужна дата.
error-form-not-a-datetime = Нужны дата и время.
error-form-not-a-string = Нужен текст.

workflows-title = Процессы
workflows-new = Новый процесс
workflows-explain = Воронки заявок и заказов, подключение поставщиков и другие процессы. Аналитик меняет их в YAML: проверка показывает ошибки с номером строки, новая версия применяется к новым экземплярам сразу, без перезапуска.
workflows-name = Название
workflows-key = Идентификатор
workflows-active-version = Активная версия
workflows-versions = Версии
workflows-version = Версия
workflows-running = Выполняется
workflows-status = Статус
workflows-empty = Процессов нет.
workflows-activate = Сделать активной
workflows-created = создана
workflows-activated = активирована
workflows-diagram = Схема
workflows-diagram-hint = Оранжевая рамка — начальное состояние, серые — конечные; число в кружке — сколько экземпляров сейчас в состоянии. Пунктир — переход по времени.
workflows-edit = Изменить
workflows-editor = Редактор процесса
workflows-check = Проверить
workflows-save-draft = Сохранить черновик
workflows-save-activate = Сохранить и включить
workflows-valid = Ошибок нет.
workflows-has-errors = Найдено ошибок: { $count }.
workflows-line = строка
workflows-column = столбец
workflows-editor-hint = Новая версия действует для новых экземпляров; работающие остаются на своей версии, пока их не перенесут кнопкой «Перенести запущенные процессы на эту версию» на странице версии (или командой podryad workflows migrate).
flash-workflow-saved = Черновик сохранён.
flash-workflow-activated = Версия включена: новые экземпляры пойдут по ней.
wf-version-active = активна
wf-version-draft = черновик
wf-version-inactive = не активна
wf-edge-event = событие
wf-edge-after = через
wf-edge-at = в срок
wf-edge-cron = по расписанию
wf-edge-when = условие
wf-edge-outcome = решение
wf-trigger-start = запуск
wf-trigger-task = задача
wf-trigger-event = событие
wf-trigger-timer = таймер
wf-trigger-cron = расписание
wf-trigger-auto = автоматически
wf-trigger-migrate = перенос версии
wf-trigger-recheck = перепроверка

instance-title = Экземпляр процесса №{ $id }
instance-workflow = Процесс
instance-object = Объект
instance-state = Состояние
instance-started = Начат
instance-finished = завершён
instance-version = Номер шага
instance-data = Данные
instance-tasks = Задачи
instance-timers = Таймеры
instance-actions = Действия
instance-action = Действие
instance-attempts = Попыток
instance-error = Ошибка
instance-history = История
instance-by-user = пользователь №{ $id }
instance-by-system = система

mail-task-assigned-subject = Новая задача: { $title }
mail-task-assigned-body =
    Здравствуйте, { $name }!

    Вам назначена задача «{ $title }»:
    { $link }
mail-task-reminder-subject = Напоминание: { $title }
mail-task-reminder-body =
    Здравствуйте, { $name }!

    Задача «{ $title }» ещё не выполнена:
    { $link }
mail-task-escalated-subject = Задача просрочена: { $title }
mail-task-escalated-body =
    Здравствуйте, { $name }!

    Задача «{ $title }» не выполнена в срок и передана вам для контроля:
    { $link }
wf-trigger-error = ошибка

## Moving running instances to another version.
migrate-title = Перенос запущенных процессов на другую версию
migrate-explain = Сначала посмотрите, какие процессы и из какого состояния куда перейдут; ничего не меняется, пока вы не подтвердите перенос. Открытые задачи переносимых процессов открываются заново, таймеры планируются по новой версии.
migrate-to = Перенести на версию
migrate-from = С версий
migrate-map = Куда перенести состояния, которых нет в новой версии
migrate-map-hint = Остальные состояния сохраняют своё имя.
migrate-map-choose = — выберите состояние —
migrate-map-needed = В новой версии такого состояния нет: выберите, куда перенести процессы из него.
migrate-preview = Показать, что перенесётся
migrate-moves = Перенесётся процессов: { $count }
migrate-instance = Процесс
migrate-object = Объект
migrate-object-ref = №{ $id }
migrate-from-state = Сейчас
migrate-to-state = После переноса
migrate-nowhere = некуда — укажите состояние выше
migrate-nothing = На выбранных версиях нет запущенных процессов.
migrate-refused = Перенос невозможен, ничего не изменено:
migrate-confirm = Перенести { $count } на версию { $version }
migrate-link = Перенести запущенные процессы на эту версию
flash-workflow-migrated = Процессы перенесены на новую версию.
error-migration-to = Не указана версия, на которую переносить.
error-migration-from = Исходная версия указана неверно.
workflows-reload = Перечитать файлы
workflows-reload-changed = Включены новые версии из файлов:
workflows-reload-unchanged = Файлы процессов не менялись.
workflows-reload-refused = Файлов с ошибками: { $count }. Они не приняты — их процессы работают по прежней активной версии:
workflows-guide-link = Справочник: какие поля object.… есть у каждого объекта

## The analysts' guide to object.* (web/src/guide.rs): one line per field
## each context provider declares; a test fails when one is missing.
guide-title = Справочник аналитика: поля объектов
guide-explain = В выражениях и заголовках задач поле бизнес-объекта пишут как object.поле — например, object.owner_user_id. Здесь перечислены все поля каждого вида объекта; проверка отвергает любые другие. Список берётся из кода, поэтому всегда точен.
guide-kind = Объект
guide-field = Поле
guide-meaning = Что в нём
guide-full = Полное руководство по языку процессов — в файле workflows/README.md рядом с процессами.
object-kind-request = заявка
object-kind-supplier = заявка поставщика на подключение
object-kind-order = заказ
object-kind-contract = договор
object-field-request-id = внутренний номер заявки
object-field-request-number = номер заявки, как его видят люди (З-2026-00001)
object-field-request-request-type = код вида заявки (cargo, machinery…)
object-field-request-client-org-id = организация клиента
object-field-request-channel = откуда пришла заявка: website (сайт), operator (звонок), hunter, cabinet (кабинет клиента), api
object-field-request-hunter-user-id = хантер, который привёл клиента (может быть пусто)
object-field-request-owner-user-id = ответственный менеджер заявки
object-field-request-status = текущий статус заявки (имя состояния воронки)
object-field-request-wanted-from = когда нужна услуга (дата и время, может быть пусто)
object-field-request-site-timezone = часовой пояс места работ (может быть пусто)
object-field-supplier-id = организация поставщика
object-field-supplier-name = название поставщика
object-field-supplier-inn = ИНН
object-field-supplier-status = статус подключения
object-field-supplier-region = регион
object-field-order-id = внутренний номер заказа
object-field-order-number = номер заказа
object-field-order-status = статус заказа
object-field-order-request-id = заявка, из которой сделан заказ
object-field-order-client-org-id = организация клиента
object-field-order-request-type = код вида заявки
object-field-order-manager-user-id = ответственный менеджер
object-field-order-contracts-waiting = сколько договоров сторон ещё не действуют
object-field-order-contracts-ready = договоры обеих сторон действуют (да/нет)
object-field-contract-id = внутренний номер договора
object-field-contract-number = номер договора
object-field-contract-side = сторона: client (клиент) или supplier (поставщик)
object-field-contract-kind = вид договора
object-field-contract-status = статус договора
object-field-contract-party-org-id = организация стороны
object-field-contract-party-name = название стороны
object-field-contract-manager-user-id = ответственный менеджер
object-field-contract-details-given = сторона заполнила реквизиты (да/нет)
wf-edge-guarded = при условии
workflows-zoom-in = Крупнее
workflows-zoom-out = Мельче
workflows-zoom-fit = Целиком
workflows-zoom-hint = Колесо мыши — масштаб, перетаскивание — сдвиг схемы.
# A history told in words (web/templates/_story.html).
story-system = Система
story-started = Начало работы
story-outcome = { $task }: { $outcome }
story-task-done = Выполнена задача «{ $task }»
story-reminder = Напоминание о задаче «{ $task }»
story-escalated = Задача «{ $task }» просрочена и передана: { $role }
story-migrated = Процесс переведён на новую версию
story-failed = Шаг процесса не выполнен из-за ошибки; администраторы видят её в разделе сбоев
story-moved = Переход
story-changed = Данные обновлены
task-cancelled-note = Задача закрыта без решения: процесс перешёл дальше.
