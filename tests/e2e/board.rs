//! The pipeline board, the header search, saved filters and bulk actions
//! (issue 11 point 3), on the demo data: a card moves only where the
//! request workflow allows (and says why not otherwise); the header search
//! finds clients, requests and orders by number, any part of a phone, INN,
//! company and surname — within what the person may see; filters are
//! saved per person; bulk assign, claim and cancel report each item.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, location};
use crate::quotes::login;

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.db().pool())
        .await
        .expect("user")
}

async fn status_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("request")
}

async fn owner_of(app: &TestApp, id: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT owner_user_id FROM requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("request")
}

/// Requests of the demo in `status` owned by `owner`: (id, number).
async fn requests_in(app: &TestApp, status: &str, owner: i64) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT id, number FROM requests WHERE status = $1 AND owner_user_id = $2 ORDER BY id",
    )
    .bind(status)
    .bind(owner)
    .fetch_all(app.db().pool())
    .await
    .expect("requests")
}

/// The open task of a request: (id, assignee).
async fn open_task(app: &TestApp, request: i64) -> (i64, Option<i64>) {
    sqlx::query_as(
        "SELECT t.id, t.assignee_user_id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.status = 'open' ORDER BY t.id DESC LIMIT 1",
    )
    .bind(request)
    .fetch_one(app.db().pool())
    .await
    .expect("an open task")
}

#[tokio::test]
async fn a_card_moves_only_where_the_request_workflow_allows() {
    let app = TestApp::spawn_demo().await;
    let manager_id = user_id(&app, "manager@podryad.test").await;
    let manager = login(&app, "manager@podryad.test").await;

    // The columns are the workflow's stages with their YAML titles, with
    // counts; the demo's requests are on it.
    let (status, page) = manager.get_text("/board").await;
    assert_eq!(status, StatusCode::OK);
    for title in [
        "Уточнение заявки",
        "Подбор поставщиков",
        "Запрос КП поставщикам",
        "Заявка отменена",
    ] {
        assert!(page.contains(title), "column {title}");
    }
    assert!(page.contains("data-column=\"qualification\""));
    let waiting = requests_in(&app, "qualification", manager_id).await;
    assert!(waiting.len() >= 2, "the demo has requests to qualify");
    let (id, number) = waiting[0].clone();
    assert!(page.contains(&number), "the card of {number}");
    // Sums: the demo's offer waiting for the client is in its column.
    let sent: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(total_gross), 0) AS BIGINT) FROM offers WHERE status = 'sent'",
    )
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    if sent > 0 {
        assert!(
            page.contains(&format!("data-sum=\"{sent}\"")),
            "the sum of offers"
        );
    }

    // Qualification → matching: the qualify task is completed with «ready».
    let id_text = id.to_string();
    let r = manager
        .post_form(
            "/board/move",
            &[
                ("request_id", &id_text),
                ("to", "ready_for_matching"),
                ("reason", ""),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/board");
    assert_eq!(status_of(&app, id).await, "ready_for_matching");
    let outcome: Option<String> = sqlx::query_scalar(
        "SELECT t.outcome FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'qualify' ORDER BY t.id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert_eq!(outcome.as_deref(), Some("ready"));

    // The RFQ round starts when quotes are asked for, not by hand.
    let r = manager
        .post_form(
            "/board/move",
            &[
                ("request_id", &id_text),
                ("to", "rfq"),
                ("back", "type=machinery"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("data-refused=\"board.move_automatic\""),
        "{page}"
    );
    assert!(page.contains("вручную этот переход не делается"));
    // No way at all from matching to the client's decision.
    let r = manager
        .post_form(
            "/board/move",
            &[("request_id", &id_text), ("to", "accepted")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-refused=\"board.move_not_allowed\"")
    );
    // The same column, and a column that does not exist.
    let r = manager
        .post_form(
            "/board/move",
            &[("request_id", &id_text), ("to", "ready_for_matching")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = manager
        .post_form(
            "/board/move",
            &[("request_id", &id_text), ("to", "nowhere")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(status_of(&app, id).await, "ready_for_matching");

    // Cancelling asks for a reason, keeps what was typed when refused, and
    // goes through the open task's «cancel» outcome.
    let r = manager
        .post_form(
            "/board/move",
            &[
                ("request_id", &id_text),
                ("to", "cancelled"),
                ("reason", "н"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("data-refused=\"quote.reason_too_short\""),
        "{page}"
    );
    assert!(page.contains("value=\"н\""), "the reason typed is kept");
    let r = manager
        .post_form(
            "/board/move",
            &[
                ("request_id", &id_text),
                ("to", "cancelled"),
                ("reason", "Клиент передумал"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&app, id).await, "cancelled");
    let reason: String = sqlx::query_scalar(
        "SELECT data FROM wf_instances WHERE object_kind = 'request' AND object_id = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert!(reason.contains("Клиент передумал"));

    // Filters narrow the board; a client has no board; another's request
    // is not found.
    let hunter_id = user_id(&app, "hunter@podryad.test").await;
    let (status, page) = manager.get_text(&format!("/board?owner={hunter_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains(&number),
        "another owner's filter leaves it out"
    );
    let (_, page) = manager
        .get_text(&format!("/board?owner={manager_id}"))
        .await;
    assert!(page.contains(&number));
    let client = login(&app, "client@sevbeton.test").await;
    assert_eq!(client.get("/board").await.status(), StatusCode::FORBIDDEN);
    let hunter = login(&app, "hunter@podryad.test").await;
    let (other, _) = waiting[1].clone();
    let r = hunter
        .post_form(
            "/board/move",
            &[
                ("request_id", &other.to_string()),
                ("to", "cancelled"),
                ("reason", "Чужая заявка"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, other).await, "qualification");
    app.stop().await;
}

#[tokio::test]
async fn the_header_search_finds_by_number_phone_inn_company_and_surname() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    // Every staff page has the box.
    let (_, home) = manager.get_text("/home").await;
    assert!(home.contains("action=\"/search\""));

    // Павел Громов's requests, by his surname.
    let gromov: Vec<String> = sqlx::query_scalar(
        "SELECT number FROM requests WHERE contact_name = 'Павел Григорьевич Громов' OR contact_name = 'Павел Громов' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert!(!gromov.is_empty());
    for q in ["Громов", "громов", "Павел Громов"] {
        let (status, page) = manager
            .get_text(&format!("/search?q={}", urlencoding(q)))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("data-group=\"requests\""), "{q}: {page}");
        assert!(page.contains(&gromov[0]), "{q} finds {}", gromov[0]);
    }
    // A request with the contact phone +7 916 777-00-11: any part of it,
    // typed any way.
    let (_, phoned) = crate::quotes::ready_request(&app).await;
    for q in [
        "7770011",
        "+7 (916) 777-00-11",
        "916 777",
        "8 916 777 00 11",
        "89167770011",
    ] {
        let (status, page) = manager
            .get_text(&format!("/search?q={}", urlencoding(q)))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&phoned), "{q} finds {phoned}: {page}");
    }
    // The client by INN, by a word of its name, by its person's surname.
    for q in ["5030123457", "503012", "северный", "Бетон", "Громов"] {
        let (_, page) = manager
            .get_text(&format!("/search?q={}", urlencoding(q)))
            .await;
        assert!(page.contains("data-group=\"clients\""), "{q}");
        assert!(page.contains("Северный бетон"), "{q}");
    }
    // A request by its number, whole or its sequence.
    let number = &phoned;
    let seq = number.rsplit('-').next().unwrap().to_string();
    for q in [number.clone(), seq.clone(), number.to_lowercase()] {
        let (_, page) = manager
            .get_text(&format!("/search?q={}", urlencoding(&q)))
            .await;
        assert!(page.contains(number.as_str()), "{q}");
    }
    // An order by its number, when the demo has one.
    let order: Option<String> = sqlx::query_scalar("SELECT number FROM orders ORDER BY id LIMIT 1")
        .fetch_optional(app.db().pool())
        .await
        .unwrap();
    if let Some(order) = order {
        let (_, page) = manager
            .get_text(&format!("/search?q={}", urlencoding(&order)))
            .await;
        assert!(page.contains("data-group=\"orders\""), "{order}");
    }
    // Nothing found says so; one letter is not a search.
    let (_, page) = manager.get_text("/search?q=Шварценеггер").await;
    assert!(page.contains("data-found=\"0\""));
    let (status, _) = manager.get_text("/search?q=я").await;
    assert_eq!(status, StatusCode::OK);

    // The requests list's search reads the same terms.
    let (_, page) = manager.get_text("/requests?q=7770011").await;
    assert!(page.contains(&phoned));

    // A hunter finds only their own book: Северный бетон's requests are
    // not theirs.
    let hunter = login(&app, "hunter@podryad.test").await;
    let (status, page) = hunter.get_text("/search?q=7770011").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains(&phoned),
        "a hunter does not see another's requests"
    );
    let (_, page) = hunter.get_text("/search?q=Громов").await;
    assert!(!page.contains(&gromov[0]));
    // Clients and suppliers have no header search.
    let client = login(&app, "client@sevbeton.test").await;
    let (status, page) = client.get_text("/requests").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("action=\"/search\""));
    assert_eq!(
        client.get("/search?q=Громов").await.status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

/// Saves a filter as the chips' form does.
async fn save_filter(b: &Browser, page: &str, name: &str, query: &str) -> reqwest::Response {
    b.post_form(
        "/filters",
        &[("page", page), ("name", name), ("query", query)],
    )
    .await
}

/// `s` percent-encoded for a query string.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn saved_filters_are_a_persons_own_chips() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    let operator = login(&app, "operator@podryad.test").await;

    // The page offers to save the filter it shows.
    let (_, page) = manager.get_text("/requests?channel=website&type=").await;
    assert!(
        page.contains("name=\"query\" value=\"channel=website&amp;type=\""),
        "{page}"
    );
    let r = save_filter(
        &manager,
        "requests",
        "С сайта",
        "channel=website&type=&_csrf=x",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/requests?channel=website");
    let (_, page) = manager.get_text("/requests").await;
    assert!(
        page.contains("requests?channel=website\">С сайта</a>"),
        "{page}"
    );
    // The board and the inbox keep their own.
    let r = save_filter(&manager, "board", "Грузы", "type=cargo").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, board) = manager.get_text("/board").await;
    assert!(board.contains("board?type=cargo\">Грузы</a>"));
    assert!(!board.contains("С сайта"));
    let r = save_filter(&manager, "tasks", "Срочные", "priority=urgent").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, tasks) = manager.get_text("/tasks").await;
    assert!(tasks.contains("tasks?priority=urgent\">Срочные</a>"));

    // A name is needed; the list says so.
    let r = save_filter(&manager, "requests", "  ", "channel=hunter").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = manager.follow(r).await;
    assert!(page.contains("дайте ему имя"));
    // Another page name is refused as bad input.
    let r = save_filter(&manager, "admin", "x", "a=b").await;
    assert_eq!(location(&r), "/requests?a=b");

    // Each person's own: a colleague neither sees nor deletes it.
    let (_, theirs) = operator.get_text("/requests").await;
    assert!(!theirs.contains("С сайта"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM saved_filters WHERE name = 'С сайта'")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let r = operator
        .post_form(&format!("/filters/{id}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = manager
        .post_form(&format!("/filters/{id}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/requests");
    let (_, page) = manager.get_text("/requests").await;
    assert!(!page.contains("С сайта"));
    app.stop().await;
}

#[tokio::test]
async fn bulk_assign_claim_and_cancel_report_each_request() {
    let app = TestApp::spawn_demo().await;
    let manager_id = user_id(&app, "manager@podryad.test").await;
    let hunter_id = user_id(&app, "hunter@podryad.test").await;
    let accountant_id = user_id(&app, "accountant@podryad.test").await;
    let manager = login(&app, "manager@podryad.test").await;
    let waiting = requests_in(&app, "qualification", manager_id).await;
    assert!(waiting.len() >= 2);
    let (a, b) = (waiting[0].0, waiting[1].0);
    let (a_text, b_text) = (a.to_string(), b.to_string());

    // The list has the boxes and the margin column.
    let (_, page) = manager.get_text("/requests").await;
    assert!(page.contains("name=\"ids\""));
    assert!(page.contains("Сумма и маржа"));

    // Assign both to the hunter: owners change and the open tasks follow.
    let hunter = hunter_id.to_string();
    let r = manager
        .post_form(
            "/requests/bulk",
            &[
                ("ids", &a_text),
                ("ids", &b_text),
                ("action", "assign"),
                ("assignee", &hunter),
                ("back", "scope=all"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Выполнено: 2, отказано: 0"), "{page}");
    assert!(
        page.contains("requests?scope=all\""),
        "back to the list as it was"
    );
    for id in [a, b] {
        assert_eq!(owner_of(&app, id).await, Some(hunter_id));
        assert_eq!(
            open_task(&app, id).await.1,
            Some(hunter_id),
            "the task went along"
        );
    }
    // Not a colleague who handles requests: refused before anything.
    let r = manager
        .post_form(
            "/requests/bulk",
            &[
                ("ids", &a_text),
                ("action", "assign"),
                ("assignee", &accountant_id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-refused=\"request.not_a_handler\"")
    );

    // Claim them back.
    let r = manager
        .post_form(
            "/requests/bulk",
            &[("ids", &a_text), ("ids", &b_text), ("action", "claim")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for id in [a, b] {
        assert_eq!(owner_of(&app, id).await, Some(manager_id));
    }

    // Cancel needs a reason; then each is cancelled, and one already
    // cancelled is refused on its own line while the others are done.
    let r = manager
        .post_form(
            "/requests/bulk",
            &[("ids", &a_text), ("action", "cancel"), ("reason", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-refused=\"required\"")
    );
    assert_eq!(status_of(&app, a).await, "qualification");
    let r = manager
        .post_form(
            "/requests/bulk",
            &[
                ("ids", &a_text),
                ("action", "cancel"),
                ("reason", "Дубль заявки"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(status_of(&app, a).await, "cancelled");
    let r = manager
        .post_form(
            "/requests/bulk",
            &[
                ("ids", &a_text),
                ("ids", &b_text),
                ("ids", "999999"),
                ("action", "cancel"),
                ("reason", "Клиент отказался"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Выполнено: 1, отказано: 2"), "{page}");
    assert!(page.contains("data-refused=\"request.not_cancellable\""));
    assert!(page.contains("data-refused=\"not_found\""));
    assert_eq!(status_of(&app, b).await, "cancelled");

    // A hunter cannot touch requests outside their book.
    let others = requests_in(&app, "qualification", manager_id).await;
    if let Some((c, _)) = others.first() {
        let hunter_b = login(&app, "hunter@podryad.test").await;
        let r = hunter_b
            .post_form(
                "/requests/bulk",
                &[
                    ("ids", &c.to_string()),
                    ("action", "cancel"),
                    ("reason", "Не моя"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("data-refused=\"not_found\"")
        );
        assert_eq!(status_of(&app, *c).await, "qualification");
    }
    app.stop().await;
}

#[tokio::test]
async fn bulk_claim_assign_and_cancel_in_the_task_inbox() {
    let app = TestApp::spawn_demo().await;
    let manager_id = user_id(&app, "manager@podryad.test").await;
    let hunter_id = user_id(&app, "hunter@podryad.test").await;
    let accountant_id = user_id(&app, "accountant@podryad.test").await;
    let manager = login(&app, "manager@podryad.test").await;
    let waiting = requests_in(&app, "qualification", manager_id).await;
    assert!(waiting.len() >= 2);
    let (ta, _) = open_task(&app, waiting[0].0).await;
    let (tb, _) = open_task(&app, waiting[1].0).await;
    let (ta_text, tb_text) = (ta.to_string(), tb.to_string());

    let (_, page) = manager.get_text("/tasks").await;
    assert!(page.contains("id=\"bulk\"") && page.contains("name=\"ids\""));

    // Claim both.
    let r = manager
        .post_form(
            "/tasks/bulk",
            &[("ids", &ta_text), ("ids", &tb_text), ("action", "claim")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Выполнено: 2, отказано: 0")
    );
    let claimed: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT claimed_by FROM wf_tasks WHERE id IN ($1, $2)")
            .bind(ta)
            .bind(tb)
            .fetch_all(app.db().pool())
            .await
            .unwrap();
    assert!(claimed.iter().all(|c| *c == Some(manager_id)));

    // Give one to the hunter (a candidate role); the accountant is none.
    let r = manager
        .post_form(
            "/tasks/bulk",
            &[
                ("ids", &ta_text),
                ("action", "assign"),
                ("assignee", &hunter_id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (assignee, claimed): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT assignee_user_id, claimed_by FROM wf_tasks WHERE id = $1")
            .bind(ta)
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_eq!((assignee, claimed), (Some(hunter_id), None));
    let r = manager
        .post_form(
            "/tasks/bulk",
            &[
                ("ids", &tb_text),
                ("action", "assign"),
                ("assignee", &accountant_id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-refused=\"task.not_a_candidate\"")
    );

    // Cancel the request of the other task, with a reason.
    let r = manager
        .post_form(
            "/tasks/bulk",
            &[
                ("ids", &tb_text),
                ("action", "cancel"),
                ("reason", "Клиент не отвечает"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Выполнено: 1, отказано: 0")
    );
    assert_eq!(status_of(&app, waiting[1].0).await, "cancelled");
    let status: String = sqlx::query_scalar("SELECT status FROM wf_tasks WHERE id = $1")
        .bind(tb)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_ne!(status, "open");
    // A client has no bulk actions.
    let client = login(&app, "client@sevbeton.test").await;
    let r = client
        .post_form("/tasks/bulk", &[("ids", &ta_text), ("action", "claim")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn the_board_sums_offers_and_the_lists_show_the_margin() {
    let app = TestApp::spawn_demo().await;
    let (request, offer, _) = crate::quotes::offer_sent(&app).await;
    let (total, margin): (i64, i64) =
        sqlx::query_as("SELECT total_gross, margin_total FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    let manager = login(&app, "manager@podryad.test").await;
    let (_, board) = manager.get_text("/board").await;
    let column = board
        .split("data-column=\"offer_sent\"")
        .nth(1)
        .and_then(|rest| rest.split("data-column=").next())
        .expect("the offer's column");
    assert!(
        column.contains(&format!("data-sum=\"{total}\"")),
        "{column}"
    );
    assert!(column.contains(&format!("data-card=\"{request}\"")));
    // From the client's stage, the board offers no move but cancelling.
    assert!(column.contains("data-moves=\"cancelled\""), "{column}");

    // The requests list and the request page: price, margin ₽ and %.
    let number: String = sqlx::query_scalar("SELECT number FROM requests WHERE id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let (_, list) = manager
        .get_text(&format!("/requests?q={}", urlencoding(&number)))
        .await;
    assert!(
        list.contains(&format!("data-margin=\"{margin}\"")),
        "the list shows the margin"
    );
    let (_, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert!(page.contains("id=\"request-margin\""));
    assert!(page.contains(&format!("data-margin=\"{margin}\"")));
    // The client never sees it.
    let client = login(&app, "client@sevbeton.test").await;
    let (_, mine) = client.get_text("/requests").await;
    assert!(!mine.contains("data-margin"));
    app.stop().await;
}
