# Bulk import of a supplier's fleet and lists exported to Excel.

## Column titles of the import template and of the garage export. The
## `.aliases` attribute lists other titles accepted in a file (comma-separated;
## case, spaces and punctuation do not matter; the field code is accepted too).

import-column-category = Вид техники
    .aliases = Категория, Тип техники, Вид
    .hint = Название или код вида из справочника ниже, например «Самосвал» или «tipper».
import-column-make = Марка
    .aliases = Производитель
    .hint = Например, КАМАЗ.
import-column-model = Модель
    .aliases = Модель техники
    .hint = Например, 65115.
import-column-year = Год
    .aliases = Год выпуска
    .hint = Год выпуска, четыре цифры.
import-column-plate = Госномер
    .aliases = Гос. номер, Госномер (ГРЗ), Государственный номер, ГРЗ
    .hint = Обязателен для машин, которые ездят по дорогам: А123ВС 77. Латинские буквы-двойники тоже подойдут.
import-column-vin = VIN
    .aliases = VIN-номер, Номер VIN
    .hint = 17 знаков: латинские буквы и цифры. Можно не заполнять.
import-column-base-address = Адрес базы
    .aliases = База, Адрес стоянки
    .hint = Где машина стоит между заказами.
import-column-base-lat = Широта
    .aliases = Широта базы
    .hint = Координаты базы, например 55,7558.
import-column-base-lon = Долгота
    .aliases = Долгота базы
    .hint = Например, 37,6173.
import-column-radius = Радиус
    .aliases = Радиус, км, Радиус работы, Радиус работы, км
    .hint = На сколько километров от базы машина готова выезжать; по умолчанию 50.

import-yes = да
import-no = нет

## The import page.

import-title = Загрузка техники из файла
import-lead = Добавьте весь парк сразу: заполните таблицу по шаблону и загрузите её. Сначала вы увидите каждую строку с ошибками, если они есть; в гараж машины попадут, только когда в файле не останется ошибок, и все сразу.
import-template-download = Скачать шаблон (Excel)
import-garage-export = Выгрузить мой гараж в Excel
import-garage-export-hint = Выгрузка сделана по тому же шаблону: её можно дополнить и загрузить снова.
import-file = Файл с техникой
import-file-hint = Excel (XLSX, первый лист) или CSV в кодировке UTF-8 или Windows-1251 с разделителем «;» или «,». До { $mb } МБ и { $rows } строк.
import-upload = Загрузить и проверить
import-columns = Столбцы таблицы
import-columns-lead = Первая строка файла — заголовки. Порядок столбцов любой, лишние столбцы пропускаются. Характеристики — отдельные столбцы с названием и единицей, как в шаблоне («Грузоподъёмность, т»); подходит и код характеристики.
import-column = Столбец
import-required = Обязательно
import-what = Что писать
import-categories = Виды техники и их характеристики
import-spec-range = от { $min } до { $max }
import-spec-choice = одно из: { $options }
import-spec-boolean = да или нет
import-spec-plate-required = нужен госномер
import-recent = Последние загрузки
import-recent-empty = Загрузок ещё не было.
import-file-name = Файл
import-uploaded-at = Загружен
import-rows = Строк
import-rows-with-errors = С ошибками
import-status = Статус

import-status-parsing = Проверяется
import-status-preview = Ждёт подтверждения
import-status-importing = Загружается
import-status-done = Загружено
import-status-failed = Не удалось прочитать
import-status-cancelled = Отменено

## One import.

import-download-original = Исходный файл
import-checking = Проверяем строки файла. Страница обновится сама.
import-progress = Проверено строк: { $done } из { $total }
import-reload = Обновить
import-cancel = Отменить загрузку
import-cancel-confirm = Отменить эту загрузку? Ни одна машина из файла не будет добавлена.
import-count-total = Всего строк
import-count-valid = Без ошибок
import-count-errors = С ошибками
import-confirm = Импортировать { $count } { $count ->
    [one] машину
    [few] машины
   *[many] машин
    }
import-confirm-hint = Все машины будут добавлены в гараж разом.
import-has-errors = В файле есть строки с ошибками, поэтому ничего не сохранено. Исправьте их в таблице и загрузите файл снова.
import-upload-again = Загрузить исправленный файл
import-ignored-columns = Эти столбцы не распознаны и пропущены: { $columns }.
import-show-all = Все строки
import-show-errors = Только с ошибками
import-row = Строка
import-machine = Машина
import-specs = Характеристики
import-errors = Ошибки
import-row-ok = Без ошибок
import-base = База
import-radius-km = { $km } км
import-no-rows-here = Строк с ошибками нет.
import-done = В гараж добавлено машин: { $count }.
import-to-garage = Перейти в гараж
import-failed = Файл не удалось загрузить.
import-cancelled = Загрузка отменена, ничего не сохранено.
import-page = Страница { $page } из { $pages }
import-page-previous = ← Предыдущая
import-page-next = Следующая →

import-flash-done = Машины добавлены в гараж.
import-flash-cancelled = Загрузка отменена.

## Excel exports.

export-column-legal-form = Форма
export-column-registered = Дата регистрации
export-sheet-garage = Гараж
export-sheet-reference = Справочник
export-reference-category-code = Код вида
export-reference-column = Столбец
export-reference-spec-code = Код характеристики
export-reference-required = Обязательно
export-reference-values = Допустимые значения
export-reference-range = от { $min } до { $max }
export-file-template = Шаблон загрузки техники
export-file-garage = Гараж

## Errors of an import (error codes `import.*`).

error-import-too-long = Слишком длинное значение (больше 1000 символов).
error-import-spec-not-for-category = У этого вида техники нет такой характеристики: оставьте ячейку пустой.
error-import-plate-repeated = Этот госномер уже встречается в файле выше.
error-import-missing-columns = В первой строке файла нет обязательных столбцов «Вид техники», «Марка» и «Модель». Возьмите заголовки из шаблона.
error-import-duplicate-column = Один и тот же столбец встречается в файле дважды. Оставьте один.
error-import-empty = Файл пустой.
error-import-no-rows = В файле есть заголовки, но нет ни одной машины.
error-import-too-many-rows = В файле больше 10 000 строк. Разделите его на несколько файлов.
error-import-too-large-unpacked = Файл Excel слишком велик после распаковки. Сохраните только нужный лист.
error-import-unreadable = Файл не удалось прочитать. Сохраните его в Excel как «Книга Excel (.xlsx)» или как CSV и загрузите снова.
error-import-failed = Файл не удалось обработать из-за ошибки на сервере. Попробуйте загрузить его ещё раз.
error-import-interrupted = Проверка файла прервалась. Загрузите файл ещё раз.
error-import-not-ready = Загрузка уже завершена, отменена или ещё проверяется.
error-import-has-errors = В файле есть строки с ошибками: исправьте их и загрузите файл снова.
error-import-changed = Справочник техники изменился после проверки файла. Загрузите файл ещё раз.
error-import-plate-taken = Пока вы смотрели файл, одну из машин с таким госномером уже добавили. Ничего не сохранено — загрузите файл ещё раз.

## Texts for the garage's own error codes, used only when the catalogue has
## no `error-<code>` text for them yet.

import-error-text-too-long = Слишком длинный текст.
import-error-category-unknown = Нет такого вида техники. Возьмите название или код из справочника.
import-error-year-invalid = Неверный год выпуска.
import-error-plate-invalid = Неверный госномер. Пример: А123ВС 77.
import-error-plate-taken = Машина с таким госномером уже есть в системе.
import-error-vin-invalid = Неверный VIN: 17 знаков, латинские буквы (кроме I, O, Q) и цифры.
import-error-coordinates-invalid = Неверные координаты: широта от −90 до 90, долгота от −180 до 180.
import-error-radius-invalid = Радиус — целое число километров от 1 до 3000.
