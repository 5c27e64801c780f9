//! The in-process test driver through the public API: `test:///default` holds libvirt's default
//! host and objects, and `test:///<node file>` loads a node document (objects inline or in
//! separate files, `<auth>` users asked through the caller's callback). Expected values are
//! libvirt 9.0's test driver's.

use rvirt::error::{code, domain};
use rvirt::{Auth, Connect, Credential, CredentialType};
use std::path::PathBuf;

const DEFAULT_NETWORK: &str = "<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
";

const DEFAULT_POOL: &str = "<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
";

#[tokio::test]
async fn default_host_networks_and_pools() {
    let c = Connect::open(Some("test:///default"))
        .await
        .expect("open test:///default");
    assert_eq!(c.get_type().await.unwrap(), "TEST");
    assert_eq!(c.get_version().await.unwrap(), 2);
    assert_eq!(c.get_uri().await.unwrap(), "test:///default");
    assert_eq!(c.get_max_vcpus(None).await.unwrap(), 32);
    let info = c.node_info().await.unwrap();
    assert_eq!(
        (
            info.model.as_str(),
            info.memory,
            info.cpus,
            info.mhz,
            info.nodes,
            info.sockets,
            info.cores,
            info.threads
        ),
        ("i686", 3145728, 16, 1400, 2, 2, 2, 2)
    );
    assert_eq!(c.node_free_memory().await.unwrap(), 3145728);
    let sec = c.node_security_model().await.unwrap();
    assert_eq!((sec.model.as_str(), sec.doi.as_str()), ("testSecurity", ""));
    let caps = c.get_capabilities().await.unwrap();
    assert!(caps.starts_with("<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n"));
    assert!(caps.contains("      <cells num='2'>\n"));
    assert!(caps.contains("    <os_type>xen</os_type>\n"));

    let net = c.network_lookup_by_name("default").await.unwrap();
    assert_eq!(net.uuid_string(), "dd8fe884-6c02-601e-7551-cca97df1c5df");
    assert!(net.is_active().await.unwrap());
    assert!(net.is_persistent().await.unwrap());
    assert_eq!(net.bridge_name().await.unwrap(), "virbr0");
    assert_eq!(net.xml_desc(0).await.unwrap(), DEFAULT_NETWORK);

    let pool = c.storage_pool_lookup_by_name("default-pool").await.unwrap();
    assert!(pool.is_active().await.unwrap());
    assert_eq!(pool.xml_desc(0).await.unwrap(), DEFAULT_POOL);
    assert_eq!(pool.num_of_volumes().await.unwrap(), 0);
    let i = pool.info().await.unwrap();
    assert_eq!(
        (i.state, i.capacity, i.available),
        (2, 100 << 30, 100 << 30)
    );
}

fn node_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rvirt-nodefile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn node_file_objects_and_node_info() {
    let d = node_dir("objects");
    std::fs::write(
        d.join("net.xml"),
        "<network><name>lab</name><uuid>ab8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
         <bridge name='labbr'/></network>",
    )
    .unwrap();
    std::fs::write(
        d.join("node.xml"),
        "<node>\
           <network file='net.xml'/>\
           <pool type='dir'><name>p</name><target><path>/p</path></target>\
             <volume><name>v</name><capacity>2048</capacity><allocation>1024</allocation></volume>\
           </pool>\
           <cpu><mhz>6000</mhz><model>i986</model><active>50</active><nodes>4</nodes>\
             <sockets>4</sockets><cores>4</cores><threads>2</threads></cpu>\
           <memory>8192000</memory>\
         </node>",
    )
    .unwrap();
    let uri = format!("test://{}", d.join("node.xml").display());
    let c = Connect::open(Some(&uri)).await.unwrap();
    assert_eq!(c.get_uri().await.unwrap(), uri);
    let info = c.node_info().await.unwrap();
    assert_eq!(
        (info.model.as_str(), info.cpus, info.mhz, info.memory),
        ("i986", 50, 6000, 8192000)
    );
    // No cells: the driver's sum is 0, virNodeGetFreeMemory's failure value, and libvirt's
    // API layer reports its generic error (libvirtd's clients see the same).
    let e = c.node_free_memory().await.unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            code::INTERNAL_ERROR,
            domain::NONE,
            "An error occurred, but the cause is unknown"
        )
    );
    assert!(c
        .get_capabilities()
        .await
        .unwrap()
        .contains("      <cells num='0'>\n      </cells>\n"));
    let net = c.network_lookup_by_name("lab").await.unwrap();
    assert!(net.is_active().await.unwrap());
    let v = c.storage_vol_lookup_by_path("/p/v").await.unwrap();
    assert_eq!(v.key(), "/p/v");
    let pool = v.pool().await.unwrap();
    let i = pool.info().await.unwrap();
    assert_eq!((i.allocation, i.available), (1024, (100 << 30) - 1024));
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn node_file_errors() {
    let d = node_dir("errors");
    let open = |body: &str| {
        std::fs::write(d.join("node.xml"), body).unwrap();
        format!("test://{}", d.join("node.xml").display())
    };
    let e = Connect::open(Some(&open("<node><cpu><nodes>x</nodes></cpu></node>")))
        .await
        .err()
        .unwrap();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            code::XML_ERROR,
            domain::TEST,
            "XML error: invalid node cpu nodes value"
        )
    );
    let e = Connect::open(Some(&open("<node><network file='missing.xml'/></node>")))
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.message,
        format!(
            "XML error: failed to parse xml document '{}'",
            d.join("missing.xml").display()
        )
    );
    let e = Connect::open(Some(&open("<nodex/>"))).await.err().unwrap();
    assert_eq!(
        (e.domain, e.message.as_str()),
        (
            domain::XML,
            "XML error: expecting root element of 'node', not 'nodex'"
        )
    );
    let e = Connect::open(Some("test:///")).await.err().unwrap();
    assert_eq!(
        e.message,
        "invalid argument: testOpen: supply a path or use test:///default"
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn answering(user: &'static str, password: Option<&'static str>) -> Auth {
    Auth {
        cred_types: vec![CredentialType::Authname, CredentialType::Passphrase],
        callback: Box::new(move |creds: &mut [Credential]| {
            for c in creds.iter_mut() {
                c.result = match c.type_ {
                    CredentialType::Authname => {
                        assert_eq!(c.prompt, "Enter username for localhost");
                        Some(user.into())
                    }
                    _ => password.map(String::from),
                };
            }
            Ok(())
        }),
    }
}

#[tokio::test]
async fn node_file_auth_asks_username_then_password() {
    let d = node_dir("auth");
    std::fs::write(
        d.join("node.xml"),
        "<node><auth><user password='pw'>alice</user><user>guest</user></auth></node>",
    )
    .unwrap();
    let uri = format!("test://{}", d.join("node.xml").display());
    Connect::open_auth(Some(&uri), &answering("alice", Some("pw")), false)
        .await
        .unwrap();
    Connect::open_auth(Some(&uri), &answering("guest", None), false)
        .await
        .unwrap();
    let e = Connect::open_auth(Some(&uri), &answering("alice", Some("nope")), false)
        .await
        .err()
        .unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            code::AUTH_FAILED,
            "authentication failed: authentication failed, see test XML for the correct username/password"
        )
    );
    // A callback that claims success without answering is an error, never an empty password.
    let e = Connect::open_auth(Some(&uri), &answering("alice", None), false)
        .await
        .err()
        .unwrap();
    assert_eq!(e.message, "authentication failed: Password request failed");
    let _ = std::fs::remove_dir_all(&d);
}
