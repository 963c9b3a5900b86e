//! Tests of the sandbox's Salesforce org: seeding, configuration, and when a change counts as
//! delivered to the daemon.

use super::*;
use crate::sandbox::data::{account_domain, person_email, Dataset};
use crate::sandbox::seed;
use std::collections::HashMap;

async fn org(polled: &[&str], shutdown: &CancellationToken) -> SalesforceSandbox {
    let options = LocalOptions {
        strict_limits: false,
        hubspot_webhooks: true,
    };
    let polled = polled.iter().map(|o| o.to_string()).collect();
    SalesforceSandbox::start(
        ([127, 0, 0, 1], 0).into(),
        polled,
        options,
        shutdown.clone(),
    )
    .await
    .unwrap()
}

fn person(email: &str) -> handoff_connector::Person {
    handoff_connector::Person {
        first_name: "Ana".into(),
        last_name: "Lima".into(),
        company: "Northwind Traders".into(),
        email: email.into(),
        country: "Chile".into(),
        source: Some("Web".into()),
        consent: true,
        sales_ready: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn seeding_makes_users_accounts_with_their_owners_and_the_inbound_queue() {
    let shutdown = CancellationToken::new();
    let sf = org(&["Account", "Lead"], &shutdown).await;
    let data = Dataset::embedded().unwrap();
    let slack = handoff_slack::SlackEmulator::new(Default::default());
    let asana = handoff_asana::AsanaEmulator::new(Default::default());
    let world = seed::seed(&data, &sf, &slack, &asana);
    let emu = sf.emulator();

    // Every sales agent is an active User named by their email, and so is every CSM.
    for a in &data.agents {
        let user = emu.get("User", &world.owner_ids[&a.sales_agent]).unwrap();
        let email = person_email(&a.sales_agent);
        assert_eq!(user["Username"], email);
        assert_eq!(user["Email"], email);
        assert_eq!(user["IsActive"], true);
    }
    for (first, last) in seed::CSMS {
        let email = person_email(&format!("{first} {last}"));
        let id = &world.owners_by_email[&email];
        assert!(id.starts_with("005"), "{email}: {id}");
    }

    // 85 Accounts, each with its domain as Website and, as owner, the agent with most
    // opportunities on it.
    let accounts = emu.objects("Account");
    assert_eq!(accounts.len(), data.accounts.len());
    let mut most: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    for o in &data.opportunities {
        if let Some(a) = &o.account {
            *most
                .entry(a)
                .or_default()
                .entry(&o.sales_agent)
                .or_default() += 1;
        }
    }
    for a in &accounts {
        let name = a["Name"].as_str().unwrap();
        assert_eq!(a["Website"], account_domain(name));
        let counts = &most[name];
        let top = counts.values().max().unwrap();
        let owner = a["OwnerId"].as_str().unwrap();
        let agent = world
            .owner_ids
            .iter()
            .find(|(_, id)| id.as_str() == owner)
            .map(|(agent, _)| agent.as_str())
            .unwrap();
        assert_eq!(counts[agent], *top, "{name} is owned by {agent}");
        assert_eq!(world.company_ids[name], a["Id"].as_str().unwrap());
    }
    assert!(accounts.iter().any(|a| a["NumberOfEmployees"].is_number()));
    assert!(accounts.iter().any(|a| a["AnnualRevenue"].is_number()));

    // The queue owns arriving leads: not routed yet, so no person owns them.
    let queue = emu
        .objects("Group")
        .into_iter()
        .find(|g| g["Name"] == INBOUND_QUEUE.0)
        .unwrap();
    assert_eq!(queue["Type"], "Queue");
    assert_eq!(queue["Id"], sf.queue_id());
    let record = crate::config::lead_record(sf.system(), &person("ana@northwind.test")).unwrap();
    let lead = sf.create_lead(record.properties).unwrap();
    let row = emu.get("Lead", &lead).unwrap();
    assert_eq!(row["OwnerId"], sf.queue_id());
    assert_eq!(row["LeadSource"], "Web");
    assert_eq!(row["Status"], "Open - Not Contacted");
    assert_eq!(sf.lead_owner(&lead), None);

    // The custom fields the shipped mappings name are the org's.
    for (object, field) in CUSTOM_FIELDS {
        let any = emu.objects(object).into_iter().next().unwrap_or_else(|| {
            let id = match object {
                "Opportunity" => sf
                    .open_deal(&DealSeed {
                        name: "Acme — GTX Pro (X1)".into(),
                        maven_stage: "Engaging",
                        product: "GTX Pro",
                        amount: Some(4_821.0),
                        owner_id: None,
                        account_id: None,
                        expected_close: "2017-03-01".into(),
                    })
                    .unwrap(),
                _ => emu.create("Case", Map::new()),
            };
            emu.get(object, &id).unwrap()
        });
        assert!(any.get(field).is_some(), "{object}.{field}");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn configure_points_the_config_at_the_org_with_jwt_and_the_marketing_user() {
    let shutdown = CancellationToken::new();
    let sf = org(&["Lead"], &shutdown).await;
    let mut loaded =
        crate::sandbox::bundled_config_for(super::super::CrmChoice::Salesforce).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    sf.configure(&mut loaded.config, dir.path()).unwrap();
    let CrmSection::Salesforce(crm) = &loaded.config.crm else {
        panic!("a Salesforce section");
    };
    assert_eq!(crm.login_url, *sf.base_url());
    let AuthSection::Jwt(jwt) = &crm.auth else {
        panic!("JWT auth");
    };
    assert_eq!(jwt.username, sf.emulator().config().username);
    use secrecy::ExposeSecret;
    let key = jwt.private_key.resolve().unwrap();
    assert_eq!(key.expose_secret().trim(), TEST_PRIVATE_KEY_PEM.trim());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(PRIVATE_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ownership = loaded.config.ownership.as_ref().unwrap();
    assert_eq!(
        ownership.system_of_writer(Some(sf.marketing_user()), "USER"),
        "marketing"
    );
    assert_eq!(ownership.system_of_writer(Some("005other"), "USER"), "crm");
    // The config still builds a connector (secrets resolve from the files).
    assert!(loaded.config.crm.connect(&Default::default()).is_ok());
    shutdown.cancel();
}

#[tokio::test]
async fn a_change_is_delivered_once_the_daemon_s_cursor_has_passed_it() {
    let shutdown = CancellationToken::new();
    let sf = org(&["Lead"], &shutdown).await;
    let emu = sf.emulator();
    emu.set_clock(Some(1_795_100_400_000));
    let rep = emu.add_user("rep@example.com", "Rep", "One");
    let record = crate::config::lead_record(sf.system(), &person("ana@northwind.test")).unwrap();
    let lead = sf.create_lead(record.properties).unwrap();
    let mut status = StatusReport::default();
    assert!(!sf.delivered(&status, false), "nothing polled yet");
    let cursor = |ms: i64, id: &str| format!("{ms}:{id}");
    status
        .cursors
        .insert("salesforce:Lead".into(), cursor(1_795_100_400_000, &lead));
    assert!(sf.delivered(&status, false));
    assert!(sf.delivered(&status, true));

    // handoff's own write (its integration user) is an echo: only `own_writes` waits for it.
    emu.set_clock(Some(1_795_100_405_000));
    let owner = fields(vec![("OwnerId", json!(rep))]);
    emu.update_as(&emu.integration_user_id(), "Lead", &lead, owner)
        .unwrap();
    assert!(sf.delivered(&status, false));
    assert!(!sf.delivered(&status, true));

    // A rep's write is not delivered until the cursor reaches it.
    emu.set_clock(Some(1_795_100_410_000));
    assert!(sf.set_status(&rep, &lead).await);
    assert!(!sf.delivered(&status, false));
    status.cursors.insert(
        "salesforce:Lead".into(),
        format!("{}:more", cursor(1_795_100_410_000, &lead)),
    );
    assert!(sf.delivered(&status, true));
    assert_eq!(sf.lead_owner(&lead).as_deref(), Some(rep.as_str()));
    shutdown.cancel();
}
