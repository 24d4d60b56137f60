//! The WebSocket and stats entry points with bad input: NULL, freed and foreign handles,
//! bad UTF-8, unknown names, a cluster not started. Every call returns an error code and
//! a message, never a panic across the boundary.

use std::ffi::CString;
use std::ptr;
use zcluster::ffi::result::zc_result;
use zcluster::ffi::websocket::*;

fn s(x: &str) -> CString {
    CString::new(x).unwrap()
}

#[test]
fn options_bad_input() {
    unsafe {
        assert_eq!(
            zc_websocket_options_new(ptr::null_mut()),
            zc_result::ZC_ERR_NULL
        );
        let mut o = ptr::null_mut();
        assert_eq!(zc_websocket_options_new(&mut o), zc_result::ZC_OK);
        assert_eq!(
            zc_websocket_options_set(o, s("listen_port").as_ptr(), s("27759/tcp").as_ptr()),
            zc_result::ZC_OK
        );
        assert_eq!(
            zc_websocket_options_set(o, s("colour").as_ptr(), s("x").as_ptr()),
            zc_result::ZC_ERR_NOT_FOUND
        );
        assert_eq!(
            zc_websocket_options_set(o, s("listen_port").as_ptr(), s("70000").as_ptr()),
            zc_result::ZC_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            zc_websocket_options_set(o, ptr::null(), s("x").as_ptr()),
            zc_result::ZC_ERR_NULL
        );
        let bad = [0xffu8, 0];
        assert_eq!(
            zc_websocket_options_set(o, bad.as_ptr().cast(), s("x").as_ptr()),
            zc_result::ZC_ERR_UTF8
        );
        zc_websocket_options_free(o);
        // Freed: an error, not a crash.
        assert_eq!(
            zc_websocket_options_set(o, s("listen_port").as_ptr(), s("1").as_ptr()),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        zc_websocket_options_free(o);
        zc_websocket_options_free(ptr::null_mut());
        // A foreign handle (an options handle where a cluster is expected).
        let mut o2 = ptr::null_mut();
        assert_eq!(zc_websocket_options_new(&mut o2), zc_result::ZC_OK);
        let mut port = 0u16;
        assert_eq!(
            zc_cluster_listen_websocket(o2.cast(), o2, &mut port),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        let mut out = ptr::null_mut();
        assert_eq!(
            zc_cluster_stats_json(ptr::null(), &mut out),
            zc_result::ZC_ERR_NULL
        );
        assert_eq!(
            zc_cluster_stats_json(o2.cast(), &mut out),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        assert_eq!(
            zc_cluster_metrics_text(o2.cast(), ptr::null_mut()),
            zc_result::ZC_ERR_NULL
        );
        assert_eq!(
            zc_cluster_metrics_port(o2.cast(), &mut port),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        assert_eq!(
            zc_endpoint_stats_json(o2.cast(), &mut out),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        zc_websocket_options_free(o2);
    }
}

#[test]
fn connect_websocket_bad_input() {
    use zcluster::ffi::endpoint::*;
    unsafe {
        let mut ep = ptr::null_mut();
        assert_eq!(zc_endpoint_new(ptr::null(), &mut ep), zc_result::ZC_OK);
        let u = s("ws://127.0.0.1:1/v1/messages/json");
        assert_eq!(
            zc_endpoint_connect_websocket(ptr::null(), u.as_ptr(), ptr::null(), 0, 0),
            zc_result::ZC_ERR_NULL
        );
        assert_eq!(
            zc_endpoint_connect_websocket(ep, ptr::null(), ptr::null(), 0, 0),
            zc_result::ZC_ERR_NULL
        );
        assert_eq!(
            zc_endpoint_connect_websocket(ep, u.as_ptr(), ptr::null(), 2, 0),
            zc_result::ZC_ERR_NULL
        );
        assert_eq!(
            zc_endpoint_connect_websocket(ep, s("tcp://x").as_ptr(), ptr::null(), 0, 0),
            zc_result::ZC_ERR_INVALID_ARGUMENT
        );
        let bad = [0xffu8, 0];
        let topics = [bad.as_ptr().cast::<std::os::raw::c_char>()];
        assert_eq!(
            zc_endpoint_connect_websocket(ep, u.as_ptr(), topics.as_ptr(), 1, 0),
            zc_result::ZC_ERR_UTF8
        );
        zc_endpoint_free(ep);
        assert_eq!(
            zc_endpoint_connect_websocket(ep, u.as_ptr(), ptr::null(), 0, 0),
            zc_result::ZC_ERR_BAD_HANDLE
        );
    }
}

#[test]
fn client_options_bad_input() {
    use zcluster::ffi::endpoint::*;
    unsafe {
        assert_eq!(
            zc_websocket_client_options_new(ptr::null_mut()),
            zc_result::ZC_ERR_NULL
        );
        let mut o = ptr::null_mut();
        assert_eq!(zc_websocket_client_options_new(&mut o), zc_result::ZC_OK);
        assert_eq!(
            zc_websocket_client_options_set(o, s("verify_peer").as_ptr(), s("F").as_ptr()),
            zc_result::ZC_OK
        );
        assert_eq!(
            zc_websocket_client_options_set(o, s("verify_peer").as_ptr(), s("x").as_ptr()),
            zc_result::ZC_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            zc_websocket_client_options_set(o, s("colour").as_ptr(), s("x").as_ptr()),
            zc_result::ZC_ERR_NOT_FOUND
        );
        let bad = [0xffu8, 0];
        assert_eq!(
            zc_websocket_client_options_set(o, s("ca_file").as_ptr(), bad.as_ptr().cast()),
            zc_result::ZC_ERR_UTF8
        );
        assert_eq!(
            zc_websocket_client_options_set(o, ptr::null(), s("x").as_ptr()),
            zc_result::ZC_ERR_NULL
        );
        let mut ep = ptr::null_mut();
        assert_eq!(zc_endpoint_new(ptr::null(), &mut ep), zc_result::ZC_OK);
        let u = s("wss://127.0.0.1:1/v1/messages/json");
        // A server options handle where client options are expected.
        let mut so = ptr::null_mut();
        assert_eq!(zc_websocket_options_new(&mut so), zc_result::ZC_OK);
        assert_eq!(
            zc_endpoint_connect_websocket_with(ep, u.as_ptr(), ptr::null(), 0, 0, so.cast()),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        zc_websocket_options_free(so);
        assert_eq!(
            zc_endpoint_connect_websocket_with(ep, u.as_ptr(), ptr::null(), 0, 0, o),
            zc_result::ZC_OK
        );
        zc_websocket_client_options_free(o);
        assert_eq!(
            zc_websocket_client_options_set(o, s("ca_file").as_ptr(), s("x").as_ptr()),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        assert_eq!(
            zc_endpoint_connect_websocket_with(ep, u.as_ptr(), ptr::null(), 0, 0, o),
            zc_result::ZC_ERR_BAD_HANDLE
        );
        zc_websocket_client_options_free(o);
        zc_websocket_client_options_free(ptr::null_mut());
        zc_endpoint_free(ep);
        assert_eq!(
            zc_endpoint_connect_websocket_with(ep, u.as_ptr(), ptr::null(), 0, 0, ptr::null()),
            zc_result::ZC_ERR_BAD_HANDLE
        );
    }
}
