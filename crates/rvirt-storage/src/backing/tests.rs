//! Backing-name parsing against the expectations of libvirt 9.0's `tests/virstoragetest.c`
//! ("Backing store parse" cases): same accept/reject, same protocol, name, hosts and ports.

use super::*;

/// (protocol, name, hosts as "name:port" or "unix:socket")
fn net(s: &str) -> (String, Option<String>, Vec<String>, bool) {
    let p = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let BackingTarget::Network(n) = p.target else {
        panic!("{s}: not network: {:?}", p.target)
    };
    let hosts = n
        .hosts
        .iter()
        .map(|h| match h.transport {
            Transport::Unix => format!("unix:{}", h.socket.clone().unwrap_or_default()),
            _ => format!("{}:{}", h.name.clone().unwrap_or_default(), h.port),
        })
        .collect();
    (
        n.protocol.as_str().to_string(),
        n.name(),
        hosts,
        p.unrepresentable,
    )
}

fn check(s: &str, proto: &str, name: Option<&str>, hosts: &[&str]) {
    let (p, n, h, _) = net(s);
    assert_eq!(p, proto, "{s}");
    assert_eq!(n.as_deref(), name, "{s}");
    assert_eq!(h, hosts, "{s}");
}

#[test]
fn files_and_dirs() {
    assert_eq!(
        parse("path").unwrap().target,
        BackingTarget::File("path".into())
    );
    assert!(parse("path").unwrap().relative);
    assert!(!parse("/abs/p").unwrap().relative);
    assert!(parse("./a:b").unwrap().relative);
    assert_eq!(
        parse("/a:b").unwrap().target,
        BackingTarget::File("/a:b".into())
    );
    assert_eq!(
        parse("fat:/somedir").unwrap().target,
        BackingTarget::Dir("/somedir".into())
    );
    assert!(parse("://").is_err());
    assert_eq!(
        parse("a:b/c").unwrap_err(),
        BackingError::InvalidProtocol("a".into())
    );
}

#[test]
fn urls() {
    check("http://example.com", "http", Some(""), &["example.com:80"]);
    check("http://example.com/", "http", Some(""), &["example.com:80"]);
    check(
        "http://example.com/file",
        "http",
        Some("file"),
        &["example.com:80"],
    );
    assert!(net("http://user:pass@example.com/file").3);
    check("nbd://example.org:1234", "nbd", None, &["example.org:1234"]);
    check(
        "nbd://example.org:1234/",
        "nbd",
        None,
        &["example.org:1234"],
    );
    check(
        "nbd://example.org:1234/exportname",
        "nbd",
        Some("exportname"),
        &["example.org:1234"],
    );
    check(
        "nbd+unix://?socket=/tmp/sock",
        "nbd",
        None,
        &["unix:/tmp/sock"],
    );
    check(
        "nbd+unix:///?socket=/tmp/sock",
        "nbd",
        None,
        &["unix:/tmp/sock"],
    );
    check(
        "nbd+unix:////?socket=/tmp/sock",
        "nbd",
        Some("/"),
        &["unix:/tmp/sock"],
    );
    check(
        "nbd+unix:///exp?socket=/tmp/sock",
        "nbd",
        Some("exp"),
        &["unix:/tmp/sock"],
    );
    check(
        "nbd+unix:////exp?socket=/tmp/sock",
        "nbd",
        Some("/exp"),
        &["unix:/tmp/sock"],
    );
    let (_, n, h, unrep) = net("iscsi://testuser:testpass@example.org:1234/exportname");
    assert_eq!(
        (n.as_deref(), h, unrep),
        (Some("exportname"), vec!["example.org:1234".into()], true)
    );
    check(
        "gluster://example.com/vol/file",
        "gluster",
        Some("vol/file"),
        &["example.com:24007"],
    );
    assert_eq!(
        parse("gluster://example.com/vol").unwrap_err(),
        BackingError::GlusterPath("vol".into())
    );
    assert_eq!(
        parse("nbd+foo://h/").unwrap_err(),
        BackingError::InvalidTransport("foo".into())
    );
}

#[test]
fn colon_syntax() {
    check(
        "rbd:testshare:id=asdf:mon_host=example.com",
        "rbd",
        Some("testshare"),
        &["example.com:0"],
    );
    check(
        "nbd:example.org:6000:exportname=blah",
        "nbd",
        Some("blah"),
        &["example.org:6000"],
    );
    check(
        "nbd:example.org:6000:exportname=:",
        "nbd",
        Some(":"),
        &["example.org:6000"],
    );
    check(
        "nbd:example.org:6000:exportname=:test",
        "nbd",
        Some(":test"),
        &["example.org:6000"],
    );
    check(
        "nbd:[::1]:6000:exportname=:test",
        "nbd",
        Some(":test"),
        &["::1:6000"],
    );
    check(
        "nbd:127.0.0.1:6000:exportname=:test",
        "nbd",
        Some(":test"),
        &["127.0.0.1:6000"],
    );
    check(
        "nbd:unix:/tmp/sock:exportname=/",
        "nbd",
        Some("/"),
        &["unix:/tmp/sock"],
    );
    check("nbd:unix:/tmp/sock:", "nbd", None, &["unix:/tmp/sock:"]);
    check(
        "nbd:unix:/tmp/sock::exportname=:",
        "nbd",
        Some(":"),
        &["unix:/tmp/sock:"],
    );
    check(
        "rbd:pool/img@snap:mon_host=[\\:\\:1]\\:6789\\;h2\\:1:conf=/c",
        "rbd",
        Some("pool/img"),
        &["::1:6789", "h2:1"],
    );
    assert!(parse("nbd:").is_err());
    assert!(parse("nbd::1").is_err());
    assert_eq!(
        parse("iscsi:x").unwrap_err(),
        BackingError::MalformedPath("iscsi".into())
    );
    assert_eq!(
        parse("nbd:h:99999").unwrap_err(),
        BackingError::PortRange("99999".into())
    );
}

#[test]
fn json_rejects() {
    for s in [
        "json:",
        "json:asdgsdfg",
        "json:{}",
        "json: { \"file.driver\":\"blah\"}",
        "json:{\"file.driver\":\"file\"}",
        "json:{\"file.driver\":\"file\", \"filename\":\"/path/to/file\"}",
        "json:{\"file.driver\":\"ftp\", \"file.url\":\"http://example.com/file\"}",
    ] {
        assert!(parse(s).is_err(), "{s} should fail");
    }
}

#[test]
fn json_files() {
    for s in [
        r#"json:{"file.driver":"file", "file.filename":"/path/to/file"}"#,
        r#"json:{"file" : { "driver":"file","filename":"/path/to/file"}}"#,
        r#"json:{"driver":"file","filename":"/path/to/file"}"#,
        r#"json:{ "file": { "driver": "raw","file": {"driver": "file","filename": "/path/to/file" } } }"#,
    ] {
        assert_eq!(
            parse(s).unwrap().target,
            BackingTarget::File("/path/to/file".into()),
            "{s}"
        );
    }
    let p = parse(r#"json:{"file.driver":"host_device", "file.filename":"/path/to/dev"}"#).unwrap();
    assert_eq!(p.target, BackingTarget::Block("/path/to/dev".into()));
    let p = parse(
        r#"json:{ "driver": "raw","offset": 10752,"size": 4063232,"file": { "driver": "file","filename": "/tmp/testfle"}}"#,
    )
    .unwrap();
    assert_eq!(
        p.slice,
        Some(Slice {
            offset: 10752,
            size: 4063232
        })
    );
    assert!(parse(
        r#"json:{"driver":"raw","file":{"driver":"raw","file":{"driver":"file","filename":"/x"}}}"#
    )
    .is_err());
}

#[test]
fn json_network() {
    check(
        r#"json:{"file.driver":"http", "file.url":"http://example.com/file"}"#,
        "http",
        Some("file"),
        &["example.com:80"],
    );
    check(
        r#"json:{"file.driver":"gluster", "file.filename":"gluster://example.com/vol/file"}"#,
        "gluster",
        Some("vol/file"),
        &["example.com:24007"],
    );
    check(
        r#"json:{"file":{"driver":"gluster","volume":"testvol","path":"img.qcow2","server":[ { "type":"tcp","host":"example.com","port":"1234"},{ "type":"unix","socket":"/path/socket"},{ "type":"tcp","host":"example.com"}]}}"#,
        "gluster",
        Some("testvol/img.qcow2"),
        &["example.com:1234", "unix:/path/socket", "example.com:24007"],
    );
    check(
        r#"json:{"driver": "raw","file": {"server.0.host": "A.A.A.A","server.1.host": "B.B.B.B","server.2.host": "C.C.C.C","driver": "gluster","path": "raw","server.0.type": "tcp","server.1.type": "tcp","server.2.type": "tcp","server.0.port": "24007","server.1.port": "24007","server.2.port": "24007","volume": "vol1"}}"#,
        "gluster",
        Some("vol1/raw"),
        &["A.A.A.A:24007", "B.B.B.B:24007", "C.C.C.C:24007"],
    );
    check(
        r#"json:{"driver":"nbd","path":"/path/to/socket"}"#,
        "nbd",
        None,
        &["unix:/path/to/socket"],
    );
    check(
        r#"json:{"file.driver":"nbd","file.export":"blah","file.host":"example.org","file.port":"6000"}"#,
        "nbd",
        Some("blah"),
        &["example.org:6000"],
    );
    check(
        r#"json:{"file":{"driver":"nbd","export":"blah","server": { "type":"inet","host":"example.org","port":"6000"}}}"#,
        "nbd",
        Some("blah"),
        &["example.org:6000"],
    );
    check(
        r#"json:{"file":{"driver":"ssh","path":"blah","server":{ "host":"example.org","port":"6000"},"user":"user"}}"#,
        "ssh",
        Some("blah"),
        &["example.org:6000"],
    );
    check(
        r#"json:{"file.driver":"rbd","file.filename":"rbd:testshare:id=asdf:mon_host=example.com"}"#,
        "rbd",
        Some("testshare"),
        &["example.com:0"],
    );
    check(
        r#"json:{"file":{"driver":"rbd","image":"test","pool":"libvirt","conf":"/path/to/conf","snapshot":"snapshotname","server":[ {"host":"example.com","port":"1234"},{"host":"example2.com"}]}}"#,
        "rbd",
        Some("libvirt/test"),
        &["example.com:1234", "example2.com:0"],
    );
    check(
        r#"json:{"file":{"driver":"iscsi","transport":"tcp","portal":"test.org","target":"iqn.2016-12.com.virttest:emulated-iscsi-noauth.target"}}"#,
        "iscsi",
        Some("iqn.2016-12.com.virttest:emulated-iscsi-noauth.target/0"),
        &["test.org:3260"],
    );
    let (_, _, _, unrep) = net(
        r#"json:{"file":{"driver":"iscsi","transport":"tcp","portal":"test.org","user":"testuser","target":"t"}}"#,
    );
    assert!(unrep);
    check(
        r#"json:{"file":{"driver":"iscsi","transport":"tcp","portal":"[2001::0]:1234","target":"t","lun":6}}"#,
        "iscsi",
        Some("t/6"),
        &["[2001::0]:1234"],
    );
    check(
        r#"json:{"file":{"driver":"iscsi","transport":"tcp","portal":"[2001::0]","target":"t","lun":6}}"#,
        "iscsi",
        Some("t/6"),
        &["[2001::0]:3260"],
    );
    check(
        r#"json:{"driver": "raw","file": {"server.host": "10.10.10.10","server.port": "7000","tag": "","driver": "sheepdog","server.type": "inet","vdi": "Alice"}}"#,
        "sheepdog",
        Some("Alice"),
        &["10.10.10.10:7000"],
    );
    check(
        r#"json:{"file":{"driver":"vxhs","vdisk-id":"c6718f6b-0401-441d-a8c3-1f0064d75ee0","server": {  "host":"example.com","port":"9999"}}}"#,
        "vxhs",
        Some("c6718f6b-0401-441d-a8c3-1f0064d75ee0"),
        &["example.com:9999"],
    );
    check(
        r#"json:{"file":{"driver":"nfs","user":2,"group":9,"path":"/foo/bar/baz","server": {  "host":"example.com","type":"inet"}}}"#,
        "nfs",
        Some("/foo/bar/baz"),
        &["example.com:0"],
    );
    let p = parse(
        r#"json:{ "file.cookie": "vmware_soap_session=\"0c8db85112873a79b7ef74f294cb70ef7f\"","file.sslverify": false,"file.driver": "https","file.url": "https://host/folder/esx6.5-rhel7.7-x86%5f64/esx6.5-rhel7.7-x86%5f64-flat.vmdk?dcPath=data&dsName=esx6.5-matrix","file.timeout": 2000}"#,
    )
    .unwrap();
    let BackingTarget::Network(n) = p.target else {
        panic!()
    };
    assert_eq!(
        n.path.as_deref(),
        Some("folder/esx6.5-rhel7.7-x86_64/esx6.5-rhel7.7-x86_64-flat.vmdk")
    );
    assert_eq!(n.query.as_deref(), Some("dcPath=data&dsName=esx6.5-matrix"));
    assert_eq!(n.ssl_verify, Some(false));
    assert_eq!(n.timeout, Some(2000));
    assert_eq!(
        n.cookies,
        vec![(
            "vmware_soap_session".into(),
            "\"0c8db85112873a79b7ef74f294cb70ef7f\"".into()
        )]
    );
    let p = parse(r#"json:{"file":{"driver": "nvme","device": "0000:01:00.0","namespace": 1}}"#)
        .unwrap();
    assert_eq!(
        p.target,
        BackingTarget::Nvme {
            device: "0000:01:00.0".into(),
            namespace: 1
        }
    );
}
