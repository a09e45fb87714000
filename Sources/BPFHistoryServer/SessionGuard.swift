import BPFModel
import Crypto
import Foundation

/// Per-session CSRF tokens for the one state-changing form (restore): each browser gets a random
/// session id in a cookie, and a form is accepted only with the token derived from it under a
/// key that lives in this process alone (HMAC-SHA256). A page of another site can make the
/// browser send the cookie, but cannot read the token.
struct SessionGuard: Sendable {
    static let cookieName = "bpftimetool_session"
    private let key = SymmetricKey(size: .bits256)

    static func newSession() -> String {
        Hex.encode((0 ..< 16).map { _ in UInt8.random(in: 0 ... 255) })
    }

    func token(for session: String) -> String {
        Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Data(session.utf8), using: key)))
    }

    /// True when `token` was issued for `session` (compared in constant time).
    func accepts(token: String?, session: String?) -> Bool {
        guard let token, let session, !session.isEmpty, let given = Hex.decode(token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(Data(given), authenticating: Data(session.utf8), using: key)
    }
}
