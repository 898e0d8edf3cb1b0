## A supplier's garage: machines, documents, availability, busy days.

garage-title = Гараж
garage-empty = Техники пока нет.
garage-add = Добавить технику
garage-edit = Изменить данные машины
garage-search = Марка, модель или госномер
garage-category = Вид техники
garage-category-hint = Выберите вид — появятся его характеристики.
garage-any-category = Любой вид
garage-available-on = Свободна на дату
garage-show-archived = Показать архив
garage-filtered-available = Показаны машины, которые могут работать { $date }.
garage-nothing-found = Ничего не найдено.
garage-machine = Машина
garage-archived = В архиве
garage-base = База
garage-radius-km = радиус { $km } км
garage-availability-on = Доступность на { $date }
garage-availability-today = Доступность сегодня
garage-available = Доступна
garage-unavailable = Недоступна
garage-supplier-card = Карточка поставщика

garage-reason-archived = Машина в архиве
garage-reason-category-unknown = Вида техники больше нет в справочнике
garage-reason-document-missing = Нет документа «{ $document }»
garage-reason-document-expired = «{ $document }» — срок истёк { $date }
garage-reason-document-not-yet-valid = «{ $document }» действует только с { $date }
garage-reason-busy = Занята по календарю

garage-section-vehicle = Машина
garage-section-base = База и выезд
garage-make = Марка
    .hint = Например: КАМАЗ, Ивановец, Komatsu
garage-model = Модель
    .hint = Например: 65115, КС-45717К-1
garage-year = Год выпуска
garage-plate = Госномер
    .hint = Например: А123ВС 77; у спецтехники Гостехнадзора — 1234 АВ 50
garage-vin = VIN или заводской номер
    .hint = VIN — 17 знаков: латинские буквы (кроме I, O, Q) и цифры
garage-base-address = Адрес базы
    .hint = Где машина стоит между заказами
garage-coordinates = Координаты
    .hint = Необязательно. Широта и долгота, например 55,7558 и 37,6173
garage-lat = Широта
garage-lon = Долгота
garage-radius = Радиус выезда, км
    .hint = На сколько километров от базы машина готова выезжать; по умолчанию 50
garage-radius-short = Радиус выезда
garage-km = { $km } км
garage-spec-range = от { $min } до { $max }
garage-yes = да
garage-no = нет

garage-photo = Фото
    .hint = JPEG, PNG или WebP, до 8 МБ. Ещё фото можно добавить на странице машины.
garage-photo-again = Если прикрепляли файл — выберите его снова.
garage-photos = Фотографии
garage-photos-empty = Фотографий пока нет.
garage-photo-add = Добавить фото
garage-photo-main = Главное фото
garage-photo-make-main = Сделать главным
garage-photo-delete-confirm = Удалить фото?

garage-archive = В архив
garage-archive-confirm = Перенести машину в архив? Она перестанет получать заявки, сроки документов перестанут отслеживаться.
garage-restore = Вернуть из архива

garage-documents = Документы
garage-documents-empty = Документов пока нет.
garage-documents-missing = Без этих документов машина не может работать:
garage-document-add = Добавить документ
garage-document-edit = Изменить
garage-document-kind = Документ
garage-document-mandatory = обязательный
garage-document-number = Номер
    .hint = Например: ХХХ 0123456789
garage-document-period = Срок действия
garage-document-from = Действует с
garage-document-until = до
garage-document-until-field = Действует по
    .hint = Последний день действия. За 14 дней до окончания владельцу придёт напоминание.
garage-document-state = Состояние
garage-document-scan = Скан
    .hint = PDF, JPEG или PNG, до 15 МБ. Необязательно.
garage-document-scan-replace = Выберите файл, чтобы заменить скан.
garage-document-open-scan = Открыть
garage-document-delete-confirm = Удалить документ?
garage-doc-valid = Действует
garage-doc-expiring = { $days ->
    [0] Последний день
    [one] Истекает через { $days } день
    [few] Истекает через { $days } дня
   *[many] Истекает через { $days } дней
    }
garage-doc-expired = Истёк
garage-doc-not-yet-valid = Ещё не действует
garage-doc-replaced = Заменён новым

garage-calendar = Календарь занятости
garage-calendar-lead = Занятость и доступность на { $days } дней с { $from }. Машина недоступна в занятые дни и когда у неё нет действующих обязательных документов.
garage-calendar-earlier = ← Раньше
garage-calendar-today = С сегодняшнего дня
garage-calendar-later = Позже →
garage-day-free = Свободна
garage-day-busy = Занята
garage-day-blocked = Недоступна (документы)
garage-busy-days = Занятые дни
garage-busy-ahead = Занята в ближайшие { $days } дней
garage-busy-none = Занятых дней нет.
garage-busy-mark = Отметить занятость
garage-busy-free = Освободить дни
garage-busy-from = С
garage-busy-until = По
    .hint = Пусто — один день
garage-busy-note = Комментарий
    .hint = Например: ремонт, заказ на объекте

garage-month-1 = Январь
garage-month-2 = Февраль
garage-month-3 = Март
garage-month-4 = Апрель
garage-month-5 = Май
garage-month-6 = Июнь
garage-month-7 = Июль
garage-month-8 = Август
garage-month-9 = Сентябрь
garage-month-10 = Октябрь
garage-month-11 = Ноябрь
garage-month-12 = Декабрь
garage-weekday-1 = Пн
garage-weekday-2 = Вт
garage-weekday-3 = Ср
garage-weekday-4 = Чт
garage-weekday-5 = Пт
garage-weekday-6 = Сб
garage-weekday-7 = Вс

flash-machine-added = Машина добавлена в гараж.
flash-machine-archived = Машина перенесена в архив.
flash-machine-restored = Машина возвращена из архива.
flash-photo-added = Фото добавлено.
flash-photo-removed = Фото удалено.
flash-document-saved = Документ сохранён.
flash-document-deleted = Документ удалён.
flash-busy-set = Занятость отмечена.
flash-busy-cleared = Дни освобождены.

error-category-unknown = Нет такого вида техники. Выберите вид из списка.
error-year-invalid = Неверный год выпуска.
error-plate-invalid = Неверный госномер. Пример: А123ВС 77 (буквы А, В, Е, К, М, Н, О, Р, С, Т, У, Х).
error-plate-taken = Машина с таким госномером уже есть в системе.
error-vin-invalid = Неверный VIN: 17 знаков, латинские буквы (кроме I, O, Q) и цифры.
error-coordinates-invalid = Неверные координаты: широта от −90 до 90, долгота от −180 до 180.
error-radius-invalid = Радиус — целое число километров от 1 до 3000.
error-text-too-long = Слишком длинный текст.
error-photos-too-many = У машины уже максимальное число фотографий. Удалите лишние.
error-document-unknown = Выберите документ из списка.
error-document-ends-before-start = Дата окончания раньше даты начала.
error-date-invalid = Неверная дата. Формат: дд.мм.гггг.
error-busy-range-reversed = Последний день раньше первого.
error-busy-range-too-long = За один раз можно отметить не больше года.
error-machine-archived = Машина в архиве. Верните её из архива, чтобы изменить.
error-machine-plate-taken = Другая действующая машина уже носит этот госномер, поэтому эту нельзя вернуть из архива.
error-stage-invalid = Неизвестный этап напоминания.

mail-machine-document-expiring-subject = Истекает срок документа: { $document }, { $machine }
mail-machine-document-expiring-body =
    Здравствуйте, { $name }!

    Срок документа «{ $document }» у машины { $machine } заканчивается { $date }. После этой даты машина не сможет получать заказы.
    Продлите документ и внесите новую дату в гараже:
    { $link }
mail-machine-document-expired-subject = Истёк срок документа: { $document }, { $machine }
mail-machine-document-expired-body =
    Здравствуйте, { $name }!

    Срок документа «{ $document }» у машины { $machine } закончился { $date }. Пока документ не продлён, машина недоступна для заказов.
    Внесите новый документ в гараже:
    { $link }
garage-import = Загрузить из Excel
