## Money (domain::money): invoices, bank statements, payouts, the ledger.

# The payment purpose on an invoice and in its QR code; it must contain the
# invoice number: the statement import looks for it there.
money-invoice-purpose = Оплата по счёту № { $number } от { $date } за услуги по заказу { $order }, { $rate ->
    [none] НДС не облагается
   *[other] в т.ч. НДС { $rate } % — { $vat }
}
money-payout-purpose = Оплата услуг по заказу { $order } (выплата { $payout }), в т.ч. НДС по ставке исполнителя
money-refund-purpose = Возврат излишне перечисленных средств (выплата { $payout })

# A malformed 1CClientBankExchange file.
bank-file-not-exchange = Строка { $line }: это не файл обмена с банком — первая строка должна быть «1CClientBankExchange».
bank-file-encoding = Строка { $line }: неизвестная кодировка «{ $value }» — ожидается Windows или DOS.
bank-file-not-key-value = Строка { $line }: ожидается «Ключ=Значение».
bank-file-bad-date = Строка { $line }: в поле { $key } не дата «{ $value }» — ожидается ДД.ММ.ГГГГ.
bank-file-bad-amount = Строка { $line }: в поле { $key } не сумма «{ $value }» — ожидается положительное число с точкой, например 1234.56.
bank-file-missing-field = Строка { $line }: в документе нет поля { $key }.
bank-file-nested-section = Строка { $line }: новая секция начинается, не закончив предыдущую.
bank-file-unexpected-end = Строка { $line }: { $key } без начала секции.
bank-file-truncated = Строка { $line }: файл оборван — секция или файл не закрыты (нет «КонецДокумента» или «КонецФайла»).

# `podryad bank import`: the matching, line by line.
bank-import-file-error = Файл { $file } не загружен.
bank-import-line = Строка { $line }: п/п № { $number } от { $date } на { $amount }, плательщик { $payer } (ИНН { $inn })
bank-import-applied = оплачен счёт { $invoice } на { $amount }
bank-import-unapplied = переплата { $amount } — в аванс клиента
bank-import-duplicate = уже загружена раньше — пропущена
bank-import-outgoing = наш платёж — ждёт сверки с выплатой
bank-import-queued = не разобрана: { $reason ->
    [unknown_payer] плательщик с таким ИНН не найден
    [no_open_invoice] у клиента нет неоплаченных счетов
   *[ambiguous] номер счёта не указан, сумма не совпадает ни с одним счётом
} — в очереди бухгалтера
bank-import-summary = Строк: { $total }; разнесено: { $applied }; в очереди: { $queued }; повторов: { $duplicates }; исходящих: { $outgoing }.
bank-import-dry-run = Пробный разбор: ничего не сохранено.
bank-import-saved = Выписка сохранена.

error-invoice-order-cancelled = Заказ отменён — счёт по нему не выставить.
error-invoice-amount-positive = Сумма счёта должна быть больше нуля.
error-invoice-order-invoiced = Заказ уже выставлен в счетах полностью.
error-invoice-more-than-order = Сумма больше, чем осталось выставить по заказу.
error-invoice-due-before-issue = Срок оплаты раньше даты счёта.
error-invoice-no-vat-rate = На дату счёта нет ставки НДС для режима заказа.
error-invoice-order-has-no-price = У заказа нет цены для клиента.
error-money-no-company = Не заполнены реквизиты компании.
error-money-payee-name-missing = В реквизитах компании нет названия — QR-код не построить.
error-money-payee-account-missing = В реквизитах компании нет расчётного счёта — QR-код не построить.
error-money-payee-bank-missing = В реквизитах компании нет банка — QR-код не построить.
error-money-payee-bik-missing = В реквизитах компании нет БИК — QR-код не построить.
error-payout-client-not-paid = Клиент ещё не оплатил заказ полностью — выплата поставщику невозможна.
error-payout-more-than-owed = Сумма больше, чем мы должны поставщику по заказу.
error-payout-more-than-credit = Сумма больше аванса клиента.
error-payout-not-positive = Сумма выплаты должна быть больше нуля.

# `podryad bank payouts`.
bank-payouts-written = Платёжные поручения записаны в { $file } ({ $bytes } байт).
bank-payouts-none = Отправлять нечего: все выплаты по банку уже выгружены.

# The invoice's line (documents/templates/invoice.typ).
money-invoice-line = Услуги по заказу { $order }
money-invoice-unit = усл.

# The invoice template's name on the templates page.
doc-template-invoice = Счёт на оплату
