# The pipeline board, the header search, saved filters and bulk actions
# (issue 11 point 3).

nav-board = Доска

## Header search
search-placeholder = Номер, телефон, ИНН, компания, фамилия
search-label = Поиск по клиентам, заявкам и заказам
search-go = Найти
search-title = Поиск
search-hint = Введите номер заявки или заказа, телефон (целиком или часть, в любом виде), ИНН, название компании или фамилию контакта — не меньше двух символов.
search-nothing = По запросу «{ $q }» ничего не найдено среди доступных вам клиентов, заявок и заказов.
search-clients = Клиенты
search-requests = Заявки
search-orders = Заказы
search-inn = ИНН
search-all-requests = Все найденные заявки списком

## Board
board-title = Доска заявок
board-as-list = Списком
board-filters = Фильтры доски
board-owner = Ответственный
board-any-owner = Все ответственные
board-me = я
board-hint = Карточку можно перетащить в другую колонку или выбрать этап под карточкой. Переход возможен только туда, куда ведёт процесс заявки: задача по заявке завершится с нужным результатом.
board-no-owner = без ответственного
board-move-to = Куда перевести заявку { $number }
board-reason = Причина (для отмены)
board-move = Перевести
board-more = Ещё { $n } — открыть списком
flash-board-moved = Заявка переведена.
board-refused = Заявка не переведена:
error-board-move-not-allowed = Из этого этапа сюда перейти нельзя: процесс заявки не ведёт сюда отсюда.
error-board-move-automatic = Заявка перейдёт сюда сама, когда случится событие процесса (ответ поставщиков, отправка предложения, решение клиента или срок) — вручную этот переход не делается.
error-board-same-column = Заявка уже на этом этапе.
error-board-not-your-task = Задача по этой заявке у коллеги: перевести её может он (или передайте заявку себе).
error-unknown = Такого значения нет.

## Saved filters
saved-filters = Сохранённые фильтры
saved-filter-name = Сохранить фильтр как
saved-filter-save = Сохранить
saved-filter-delete = Удалить фильтр «{ $name }»
flash-filter-saved = Фильтр сохранён.
flash-filter-deleted = Фильтр удалён.
error-saved-filter-name = Фильтр не сохранён: дайте ему имя до 60 символов.
error-saved-filter-too-many = Фильтр не сохранён: для этой страницы их уже 30, удалите ненужный.

## Bulk actions
bulk-legend = Действие с отмеченными
bulk-action = Что сделать с отмеченными
bulk-assign = Передать коллеге
bulk-claim = Взять себе
bulk-cancel = Отменить заявки
bulk-claim-task = Взять задачи себе
bulk-cancel-task = Отменить заявки этих задач
bulk-assignee = Кому передать
bulk-reason = Причина отмены
bulk-apply = Выполнить
bulk-all = Отметить все
bulk-pick = Отметить { $number }
bulk-title = Результат действия
bulk-summary = Выполнено: { $done }, отказано: { $refused }.
bulk-done = выполнено
bulk-back = Вернуться к списку
bulk-field-ids = Отметки
bulk-field-action = Действие
bulk-field-assignee = Кому передать
bulk-field-reason = Причина отмены
error-bulk-too-many = Слишком много за раз: не больше 200.
error-not-found = не найдено или недоступно.
error-forbidden = недостаточно прав.
error-error = не удалось, попробуйте ещё раз.
error-request-ended = заявка уже закрыта.
error-request-not-a-handler = этот сотрудник не работает с заявками.
error-request-not-cancellable = заявку уже нельзя отменить (она закрыта или по ней оформляется заказ — отмените заказ).
error-task-not-a-candidate = этому сотруднику такую задачу передать нельзя (нет нужной роли).
error-task-not-a-request = это задача не по заявке — отменить нечего.

## Money in request lists and on the request page
requests-money = Сумма и маржа
requests-margin = маржа { $amount } ({ $percent })
