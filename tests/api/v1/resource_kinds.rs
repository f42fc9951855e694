//! What the resource stories know of each JSON kind: valid creates and their defaults, the
//! kind's list filters, a run of changes, and the creates and patches it refuses with the field
//! each must name.

use serde_json::{json, Map, Value};

/// List queries and the resources (by index) each must return, in order.
pub type Filters = Vec<(String, Vec<usize>)>;

/// What a story needs to know of one kind.
pub struct Kind {
    pub path: &'static str,
    pub prefix: &'static str,
    /// The `i`th of the resources a story creates; `agents` are two agents of the tenant. The
    /// first leaves out every field that has a default.
    pub body: fn(usize, &[String]) -> Value,
    /// The defaults the first one reads back with.
    pub defaults: Value,
    /// The kind's list filters.
    pub filters: fn(&[String]) -> Filters,
    /// Changes made one after another to the first resource.
    pub changes: fn(&[String]) -> Vec<Value>,
    /// A patch that removes an optional field by `null`, the field's JSON pointer, and what
    /// it reads as afterwards (`None`: absent).
    pub removal: (Value, &'static str, Option<Value>),
    /// Creates that are refused, each with the field it must name.
    pub bad_creates: fn(&[String]) -> Vec<(Value, &'static str)>,
    /// Patches of the first resource that are refused, each with the field it must name.
    pub bad_patches: fn(&[String]) -> Vec<(Value, &'static str)>,
}

pub fn phone_numbers() -> Kind {
    Kind {
        path: "phone-numbers",
        prefix: "pn_",
        body: |i, agents| {
            let number = format!("+1415555{:04}", 100 + i);
            match i {
                0 => json!({ "number": number }),
                1 => json!({ "number": number, "direction": "inbound", "agentId": agents[0] }),
                2 => json!({ "number": number, "direction": "outbound", "agentId": agents[0] }),
                3 => json!({ "number": number, "direction": "inbound", "agentId": agents[1] }),
                _ => json!({ "number": number, "label": "Sales" }),
            }
        },
        defaults: json!({ "direction": "both", "agentId": null }),
        filters: |agents| {
            vec![
                ("direction=inbound".to_owned(), vec![1, 3]),
                ("direction=outbound".to_owned(), vec![2]),
                ("direction=both".to_owned(), vec![0, 4]),
                (format!("agentId={}", agents[0]), vec![1, 2]),
                (format!("agentId={}&direction=inbound", agents[0]), vec![1]),
            ]
        },
        changes: |agents| {
            vec![
                json!({ "label": "Front desk" }),
                json!({ "direction": "inbound", "agentId": agents[1] }),
                json!({ "number": "+4930123456" }),
            ]
        },
        removal: (json!({ "label": null }), "/label", None),
        bad_creates: |agents| {
            vec![
                (json!({ "number": "4155550123" }), "number"),
                (json!({ "number": "+04155550123" }), "number"),
                (json!({ "number": "+1 415 555 0123" }), "number"),
                (json!({ "number": "+123456" }), "number"),
                (json!({ "number": "+1234567890123456" }), "number"),
                (json!({ "label": "No number" }), "number"),
                (
                    json!({ "number": "+14155550999", "direction": "sideways" }),
                    "direction",
                ),
                (
                    json!({ "number": "+14155550999", "agentId": "agt_x" }),
                    "agentId",
                ),
                (json!({ "number": "+14155550999", "label": "" }), "label"),
                (
                    json!({ "number": "+14155550999", "agentId": agents[0], "extra": 1 }),
                    "extra",
                ),
            ]
        },
        bad_patches: |_| {
            vec![
                (json!({ "number": "12" }), "number"),
                (json!({ "number": null }), "number"),
                (json!({ "direction": "up" }), "direction"),
                (json!({ "agentId": "nope" }), "agentId"),
                (json!({ "unknown": true }), "unknown"),
            ]
        },
    }
}

pub fn sip_trunks() -> Kind {
    Kind {
        path: "sip-trunks",
        prefix: "sip_",
        body: |i, _| {
            let name = format!("Trunk {i}");
            match i {
                0 => json!({ "name": name, "domain": "sip.carrier.example" }),
                1 => json!({ "name": name, "domain": "10.0.0.1", "transport": "tcp" }),
                2 => {
                    json!({ "name": name, "domain": "sip.b.example", "transport": "tls", "port": 5061 })
                }
                3 => {
                    json!({ "name": name, "domain": "sip.c.example", "transport": "tcp", "username": "acme" })
                }
                _ => json!({ "name": name, "domain": "::1", "transport": "udp", "port": 65535 }),
            }
        },
        defaults: json!({ "port": 5060, "transport": "udp" }),
        filters: |_| {
            vec![
                ("transport=tcp".to_owned(), vec![1, 3]),
                ("transport=udp".to_owned(), vec![0, 4]),
                ("transport=tls".to_owned(), vec![2]),
            ]
        },
        changes: |_| {
            vec![
                json!({ "port": 5080, "username": "pbx" }),
                json!({ "transport": "tls", "domain": "sip2.carrier.example" }),
                json!({ "name": "Main trunk", "port": 1 }),
            ]
        },
        removal: (json!({ "username": null }), "/username", None),
        bad_creates: |_| {
            let trunk = |extra: Value| {
                let mut body = json!({ "name": "Bad", "domain": "sip.carrier.example" });
                merge(&mut body, &extra);
                body
            };
            vec![
                (trunk(json!({ "port": 0 })), "port"),
                (trunk(json!({ "port": 70000 })), "port"),
                (trunk(json!({ "port": -1 })), "port"),
                (trunk(json!({ "transport": "sctp" })), "transport"),
                (trunk(json!({ "domain": "not a host" })), "domain"),
                (trunk(json!({ "domain": null })), "domain"),
                (trunk(json!({ "name": "" })), "name"),
                (trunk(json!({ "password": "" })), "password"),
            ]
        },
        bad_patches: |_| {
            vec![
                (json!({ "port": 0 }), "port"),
                (json!({ "port": 70000 }), "port"),
                (json!({ "transport": "sctp" }), "transport"),
                (json!({ "name": null }), "name"),
                (json!({ "domain": null }), "domain"),
                (json!({ "domain": "-bad-.example" }), "domain"),
                (json!({ "registrar": "x" }), "registrar"),
            ]
        },
    }
}

pub fn squads() -> Kind {
    Kind {
        path: "squads",
        prefix: "sqd_",
        body: |i, agents| {
            let name = format!("Squad {i}");
            match i {
                0 => json!({ "name": name }),
                1 => json!({ "name": name, "agentIds": [agents[0]] }),
                2 => json!({ "name": name, "agentIds": [agents[1], agents[0]] }),
                3 => json!({ "name": name, "agentIds": [agents[1]] }),
                _ => json!({ "name": name, "agentIds": [] }),
            }
        },
        defaults: json!({ "agentIds": [] }),
        filters: |agents| {
            vec![
                (format!("agentId={}", agents[0]), vec![1, 2]),
                (format!("agentId={}", agents[1]), vec![2, 3]),
            ]
        },
        changes: |agents| {
            vec![
                json!({ "agentIds": [agents[0], agents[1]] }),
                json!({ "name": "Night shift" }),
                json!({ "agentIds": [agents[1]] }),
            ]
        },
        removal: (json!({ "agentIds": null }), "/agentIds", Some(json!([]))),
        bad_creates: |agents| {
            vec![
                (
                    json!({ "name": "Twice", "agentIds": [agents[0], agents[1], agents[0]] }),
                    "agentIds[2]",
                ),
                (json!({ "name": "" }), "name"),
                (json!({ "agentIds": [] }), "name"),
                (
                    json!({ "name": "Bad id", "agentIds": ["x"] }),
                    "agentIds[0]",
                ),
            ]
        },
        bad_patches: |agents| {
            vec![
                (json!({ "agentIds": [agents[1], agents[1]] }), "agentIds[1]"),
                (json!({ "name": null }), "name"),
                (json!({ "name": "" }), "name"),
                (json!({ "lead": agents[0] }), "lead"),
            ]
        },
    }
}

/// A workflow definition whose compact JSON is exactly `bytes` long.
pub fn definition_of(bytes: usize) -> Value {
    // `{"blob":""}` is 11 bytes.
    json!({ "blob": "x".repeat(bytes - 11) })
}

/// The largest definition a workflow may have: 256 KiB.
pub const MAX_DEFINITION: usize = 256 * 1024;

pub fn workflows() -> Kind {
    Kind {
        path: "workflows",
        prefix: "wf_",
        body: |i, _| {
            let name = format!("Flow {i}");
            let definition = json!({ "steps": [{ "say": format!("hello {i}") }] });
            match i {
                0 => json!({ "name": name, "definition": definition }),
                1 | 3 => json!({ "name": name, "definition": definition, "status": "active" }),
                2 => json!({ "name": name, "definition": definition, "status": "archived" }),
                _ => json!({ "name": name, "definition": {}, "status": "draft" }),
            }
        },
        defaults: json!({ "status": "draft" }),
        filters: |_| {
            vec![
                ("status=active".to_owned(), vec![1, 3]),
                ("status=draft".to_owned(), vec![0, 4]),
                ("status=archived".to_owned(), vec![2]),
            ]
        },
        changes: |_| {
            vec![
                json!({ "status": "active" }),
                json!({ "definition": { "steps": [{ "say": "bye" }], "timeoutSeconds": 30 } }),
                json!({ "definition": { "timeoutSeconds": null, "retries": 2 } }),
                json!({ "name": "Renamed" }),
                json!({ "status": "archived" }),
                json!({ "status": "draft" }),
            ]
        },
        removal: (json!({ "status": null }), "/status", Some(json!("draft"))),
        bad_creates: |_| {
            let flow = |definition: Value| json!({ "name": "Bad", "definition": definition });
            vec![
                (flow(definition_of(MAX_DEFINITION + 1)), "definition"),
                (flow(json!("steps")), "definition"),
                (flow(json!([1, 2])), "definition"),
                (flow(Value::Null), "definition"),
                (json!({ "name": "No definition" }), "definition"),
                (
                    json!({ "name": "Bad", "definition": {}, "status": "live" }),
                    "status",
                ),
                (json!({ "name": "", "definition": {} }), "name"),
            ]
        },
        bad_patches: |_| {
            vec![
                (
                    json!({ "definition": definition_of(MAX_DEFINITION + 1) }),
                    "definition",
                ),
                (json!({ "definition": "steps" }), "definition"),
                (json!({ "definition": null }), "definition"),
                (json!({ "status": "live" }), "status"),
                (json!({ "name": null }), "name"),
                (json!({ "version": 7 }), "version"),
            ]
        },
    }
}

pub fn integrations() -> Kind {
    Kind {
        path: "integrations",
        prefix: "int_",
        body: |i, _| {
            let name = format!("Integration {i}");
            match i {
                0 | 3 => {
                    json!({ "kind": "crm", "name": name, "config": { "provider": "hubspot", "region": "eu" } })
                }
                1 | 4 => {
                    json!({ "kind": "calendar", "name": name, "config": { "provider": "google" } })
                }
                _ => {
                    json!({ "kind": "http", "name": name, "config": { "url": "https://hooks.example/x" } })
                }
            }
        },
        defaults: json!({}),
        filters: |_| {
            vec![
                ("kind=crm".to_owned(), vec![0, 3]),
                ("kind=calendar".to_owned(), vec![1, 4]),
                ("kind=http".to_owned(), vec![2]),
            ]
        },
        changes: |_| {
            vec![
                json!({ "name": "HubSpot" }),
                json!({ "config": { "provider": "salesforce", "sandbox": true } }),
                json!({ "kind": "calendar", "config": { "provider": "google" } }),
                json!({ "kind": "crm" }),
            ]
        },
        removal: (
            json!({ "config": { "region": null } }),
            "/config/region",
            None,
        ),
        bad_creates: |_| {
            vec![
                (
                    json!({ "kind": "crm", "name": "No provider", "config": {} }),
                    "config.provider",
                ),
                (
                    json!({ "kind": "crm", "name": "No config" }),
                    "config.provider",
                ),
                (
                    json!({ "kind": "calendar", "name": "Number", "config": { "provider": 5 } }),
                    "config.provider",
                ),
                (
                    json!({ "kind": "http", "name": "No url", "config": { "provider": "x" } }),
                    "config.url",
                ),
                (
                    json!({ "kind": "http", "name": "Ftp", "config": { "url": "ftp://files.example" } }),
                    "config.url",
                ),
                (
                    json!({ "kind": "erp", "name": "Erp", "config": {} }),
                    "kind",
                ),
                (
                    json!({ "name": "No kind", "config": { "provider": "x" } }),
                    "kind",
                ),
                (
                    json!({ "kind": "crm", "name": "", "config": { "provider": "x" } }),
                    "name",
                ),
            ]
        },
        bad_patches: |_| {
            vec![
                (json!({ "config": { "provider": null } }), "config.provider"),
                (json!({ "config": { "provider": "" } }), "config.provider"),
                // An http integration needs a url that the crm one lacks.
                (json!({ "kind": "http" }), "config.url"),
                (json!({ "kind": null }), "kind"),
                (json!({ "name": null }), "name"),
                (json!({ "secret": "x" }), "secret"),
            ]
        },
    }
}

/// RFC 7386, written here apart from the server's: objects merge, `null` removes.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let object = target.as_object_mut().expect("an object");
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
