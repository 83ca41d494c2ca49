//! How the pieces of `deploy/` meet: every command line that runs
//! `credgate` parses with the binary's own parser; the Dockerfile's runtime
//! user and binary path are made where they are used; the Kubernetes
//! selectors, the autoscaler's target and the probes meet the StatefulSet;
//! every file the Kubernetes configuration names under a Secret's mount is a
//! key of that Secret; the collector's pipelines name components it
//! defines; the compose policy is the demo policy. (Each found missing by a
//! review that broke one thing at a time and saw the other tests pass.)

use clap::Parser as _;
use credgate::cli::Cli;

use super::*;

/// Parses `args` (without the program name) as `credgate`'s command line.
fn parses(args: &[String], what: &str) {
    let argv = std::iter::once("credgate".to_owned()).chain(args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(argv) {
        panic!("{what}: `credgate {}` does not parse: {e}", args.join(" "));
    }
}

/// A compose or Kubernetes command: a list, or one string split on blanks.
fn words(v: &Yaml) -> Vec<String> {
    match v.as_str() {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => strs(v),
    }
}

#[test]
fn every_credgate_command_line_parses() {
    let mut checked = 0;
    // Dockerfile: ENTRYPOINT + CMD of the runtime stage.
    let ins = dockerfile_instructions(&read(&deploy().join("Dockerfile")));
    let exec = |prefix: &str| -> Option<Vec<String>> {
        ins.iter()
            .rev()
            .find_map(|i| i.strip_prefix(prefix))
            .map(|json| serde_json::from_str(json).expect("exec form"))
    };
    let entry = exec("ENTRYPOINT ").expect("ENTRYPOINT");
    assert_eq!(entry, ["/usr/local/bin/credgate"]);
    parses(&exec("CMD ").expect("CMD"), "Dockerfile CMD");
    checked += 1;

    // compose: every service of the credgate image.
    let compose = yaml_one(&deploy().join("compose.yaml"));
    for (name, svc) in compose["services"].as_mapping().unwrap() {
        if svc["image"].as_str() != Some("credgate:dev") {
            continue;
        }
        assert!(svc.get("entrypoint").is_none(), "{name:?}: the image's");
        parses(&words(&svc["command"]), &format!("compose {name:?}"));
        checked += 1;
    }

    // Kubernetes: every container of the StatefulSet (they run the image's
    // entrypoint with `args`).
    for doc in yaml_docs(&deploy().join("k8s/statefulset.yaml")) {
        let pod = &doc["spec"]["template"]["spec"];
        for list in ["containers", "initContainers"] {
            for c in pod[list].as_sequence().into_iter().flatten() {
                assert!(c.get("command").is_none(), "{:?}: the image's", c["name"]);
                parses(&words(&c["args"]), &format!("k8s {:?}", c["name"]));
                checked += 1;
            }
        }
    }

    // systemd: ExecStartPre and ExecStart.
    let unit = read(&deploy().join("systemd/credgate.service"));
    for line in unit.lines().map(str::trim) {
        let Some(cmd) = ["ExecStartPre=", "ExecStart="]
            .iter()
            .find_map(|k| line.strip_prefix(k))
        else {
            continue;
        };
        let mut w = cmd.split_whitespace().map(str::to_owned);
        assert_eq!(
            w.next().as_deref(),
            Some("/usr/local/bin/credgate"),
            "{line}"
        );
        parses(&w.collect::<Vec<_>>(), line);
        checked += 1;
    }
    // Dockerfile, gateway-1, gateway-2, sim, two containers, two Exec lines.
    assert_eq!(checked, 8, "command lines found");
}

#[test]
fn the_runtime_user_and_the_binary_are_made_where_they_are_used() {
    let ins = dockerfile_instructions(&read(&deploy().join("Dockerfile")));
    let build_end = ins
        .iter()
        .position(|i| i.starts_with("FROM ${RUNTIME_IMAGE}"))
        .expect("runtime stage");
    let (build, runtime) = ins.split_at(build_end);
    // The binary: installed in the build stage where the runtime copies it from.
    let copy = runtime
        .iter()
        .find_map(|i| i.strip_prefix("COPY --from=build "))
        .expect("COPY --from=build");
    let from = copy.split_whitespace().next().unwrap();
    assert!(
        build
            .iter()
            .any(|i| i.contains(&format!("target/release/credgate {from}"))),
        "the build stage does not put the binary at {from}"
    );
    assert!(copy.ends_with(" /usr/local/bin/credgate"), "{copy}");
    // The user: created in the runtime stage with that uid and gid.
    let user = runtime
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("USER");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let run: String = runtime
        .iter()
        .filter(|i| i.starts_with("RUN "))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let created = |tool: &str, flag: &str, id: &str| {
        run.split("&&").any(|step| {
            let w: Vec<&str> = step.split_whitespace().collect();
            w.first() == Some(&tool)
                && (w.windows(2).any(|p| p == [flag, id]) || w.last() == Some(&id))
        })
    };
    assert!(
        created("useradd", "--uid", uid),
        "USER {user}: no `useradd --uid {uid}` in the runtime stage"
    );
    assert!(
        created("groupadd", "--gid", gid),
        "USER {user}: no `groupadd --gid {gid}` in the runtime stage"
    );
    // The Kubernetes pod runs as that user.
    let sts = yaml_one(&deploy().join("k8s/statefulset.yaml"));
    let sc = &sts["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        sc["runAsUser"].as_u64().map(|u| u.to_string()).as_deref(),
        Some(uid)
    );
}

/// The labels a selector requires.
fn required(selector: &Yaml) -> BTreeMap<String, String> {
    selector
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn kubernetes_selectors_target_and_probes_meet_the_statefulset() {
    let dir = deploy().join("k8s");
    let sts = yaml_one(&dir.join("statefulset.yaml"));
    let name = sts["metadata"]["name"].as_str().unwrap();
    let labels = required(&sts["spec"]["template"]["metadata"]["labels"]);
    let selects = |what: &str, selector: &Yaml| {
        let want = required(selector);
        assert!(!want.is_empty(), "{what}: empty selector");
        for (k, v) in &want {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{what} selects {k}={v}, the StatefulSet's pods are labelled {labels:?}"
            );
        }
    };
    selects("StatefulSet", &sts["spec"]["selector"]["matchLabels"]);
    let services = yaml_docs(&dir.join("service.yaml"));
    for svc in &services {
        selects("Service", &svc["spec"]["selector"]);
    }
    assert!(
        services
            .iter()
            .any(|s| s["metadata"]["name"] == sts["spec"]["serviceName"]),
        "the StatefulSet's serviceName is no Service of service.yaml"
    );
    let pdb = yaml_one(&dir.join("poddisruptionbudget.yaml"));
    selects(
        "PodDisruptionBudget",
        &pdb["spec"]["selector"]["matchLabels"],
    );
    for np in yaml_docs(&dir.join("networkpolicy.yaml")) {
        selects("NetworkPolicy", &np["spec"]["podSelector"]["matchLabels"]);
    }
    let hpa = yaml_one(&dir.join("horizontalpodautoscaler.yaml"));
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"], "StatefulSet");
    assert_eq!(target["name"].as_str(), Some(name));
    assert_eq!(target["apiVersion"], sts["apiVersion"]);
    // Every probe asks the admin listener's /healthz or /readyz.
    let pod = &sts["spec"]["template"]["spec"];
    let mut probes = 0;
    for c in pod["containers"].as_sequence().unwrap() {
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let Some(p) = c.get(probe) else { continue };
            let get = &p["httpGet"];
            assert!(
                ["/healthz", "/readyz"].contains(&get["path"].as_str().unwrap_or("")),
                "{probe}: {get:?}"
            );
            assert_eq!(get["port"], "admin", "{probe}");
            probes += 1;
        }
    }
    assert_eq!(probes, 3, "startup, liveness and readiness probes");
}

#[test]
fn every_file_under_a_secret_mount_is_a_key_of_the_secret() {
    let dir = deploy().join("k8s");
    let secrets: BTreeMap<String, BTreeSet<String>> = yaml_docs(&dir.join("secret.example.yaml"))
        .iter()
        .map(|d| {
            let mut keys = BTreeSet::new();
            for field in ["data", "stringData"] {
                for k in d[field].as_mapping().into_iter().flatten().map(|(k, _)| k) {
                    keys.insert(k.as_str().unwrap().to_owned());
                }
            }
            (d["metadata"]["name"].as_str().unwrap().to_owned(), keys)
        })
        .collect();
    let sts = yaml_one(&dir.join("statefulset.yaml"));
    let pod = &sts["spec"]["template"]["spec"];
    let secret_of: BTreeMap<String, String> = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let s = v["secret"]["secretName"].as_str()?;
            assert!(
                v["secret"].get("items").is_none(),
                "{s}: items are not followed here"
            );
            Some((v["name"].as_str().unwrap().to_owned(), s.to_owned()))
        })
        .collect();
    let c = &pod["containers"][0];
    let mounts: Vec<(String, String)> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let secret = secret_of.get(m["name"].as_str()?)?;
            assert!(
                m.get("subPath").is_none(),
                "subPath mounts are not followed here"
            );
            Some((m["mountPath"].as_str().unwrap().to_owned(), secret.clone()))
        })
        .collect();
    assert!(!mounts.is_empty());
    let mut paths = BTreeSet::new();
    absolute_paths(&toml_file(&dir.join("config/gateway.toml")), &mut paths);
    let policy = toml_file(&dir.join("config/policy.toml"));
    absolute_paths(&policy, &mut paths);
    let mut found = 0;
    for path in &paths {
        for (mount, secret) in &mounts {
            let Some(key) = path.strip_prefix(&format!("{mount}/")) else {
                continue;
            };
            assert!(
                secrets[secret].contains(key),
                "{path} is read from Secret {secret} (mounted at {mount}), which has no key {key}"
            );
            found += 1;
        }
    }
    assert!(
        found >= 5,
        "only {found} files found under Secret mounts: {paths:?}"
    );
}

#[test]
fn the_collector_pipelines_name_components_it_defines() {
    let cfg = yaml_one(&deploy().join("compose/otel-collector.yaml"));
    let pipelines = cfg["service"]["pipelines"].as_mapping().expect("pipelines");
    assert!(!pipelines.is_empty());
    for (name, p) in pipelines {
        for kind in ["receivers", "processors", "exporters"] {
            for c in strs(&p[kind]) {
                assert!(
                    cfg[kind].get(c.as_str()).is_some(),
                    "pipeline {name:?} names {kind} {c}, which is not defined"
                );
            }
        }
        assert!(!strs(&p["receivers"]).is_empty() && !strs(&p["exporters"]).is_empty());
    }
}

#[test]
fn the_compose_policy_is_the_demo_policy() {
    let compose = read(&deploy().join("compose/policy.toml"));
    let demo = read(&repo().join("policy/examples/demo-policy.toml"));
    // Its own header (comment lines and one blank line), then the demo's text.
    let body = compose
        .split_once("\n\n")
        .map(|(header, rest)| {
            assert!(header.lines().all(|l| l.starts_with('#')), "{header}");
            rest
        })
        .unwrap();
    assert_eq!(
        body, demo,
        "deploy/compose/policy.toml must be policy/examples/demo-policy.toml below its header"
    );
}
