package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/storage"
)

// ProxyAuth is single sign-on through an authenticating reverse proxy
// (oauth2-proxy and the like): the proxy signs people in and names them in
// a header, and hubdesk believes that header only from the proxy itself.
type ProxyAuth struct {
	// UserHeader carries the signed-in person's name, e.g. X-Forwarded-User.
	UserHeader string
	// GroupsHeader carries their groups, comma-separated, e.g.
	// X-Forwarded-Groups.
	GroupsHeader string
	// Trusted are the proxies' addresses. Only a request whose TCP peer is
	// in one of them may assert UserHeader.
	Trusted []netip.Prefix
	// Roles maps groups to roles; a person gets the highest role of any of
	// their groups, and none at all if no group matches.
	Roles []GroupRole
}

// GroupRole grants Role to the members of Group.
type GroupRole struct {
	Group string
	Role  storage.Role
}

// ssoSuffix marks a person signed in by the proxy. Local account names
// cannot contain it, so an SSO identity never passes for a local account
// in the pages, the logs or the audit trail.
const ssoSuffix = " (sso)"

// maxSSONameLength bounds the user name a proxy may assert.
const maxSSONameLength = 256

// ParseHeaderName checks that s is an HTTP header name and returns it in
// canonical form; "" stays "".
func ParseHeaderName(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if r > unicode.MaxASCII || !(r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return "", fmt.Errorf("%q is not an HTTP header name", s)
		}
	}
	return http.CanonicalHeaderKey(s), nil
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and CIDR
// prefixes, such as "10.0.0.5, 192.168.10.0/24, ::1".
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseGroupRoles reads a comma-separated list of group=role pairs, such
// as "iot-admins=admin,iot-support=editor,staff=viewer".
func ParseGroupRoles(s string) ([]GroupRole, error) {
	var out []GroupRole
	seen := map[string]storage.Role{}
	for _, f := range splitList(s) {
		group, role, ok := strings.Cut(f, "=")
		group, role = strings.TrimSpace(group), strings.TrimSpace(role)
		if !ok || group == "" {
			return nil, fmt.Errorf("%q: want group=role", f)
		}
		r, err := storage.ParseRole(role)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		key := strings.ToLower(group)
		if prev, dup := seen[key]; dup && prev != r {
			return nil, fmt.Errorf("group %q is mapped to both %s and %s", group, prev, r)
		}
		seen[key] = r
		out = append(out, GroupRole{Group: group, Role: r})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// trusts reports whether remoteAddr, a request's TCP peer as host:port, is
// one of the proxies.
func (p *ProxyAuth) trusts(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, pr := range p.Trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// roleFor is the highest role any of groups grants. Group names compare
// without regard to case.
func (p *ProxyAuth) roleFor(groups []string) (storage.Role, bool) {
	var best storage.Role
	for _, g := range groups {
		for _, gr := range p.Roles {
			if strings.EqualFold(g, gr.Group) && !best.Allows(gr.Role) {
				best = gr.Role
			}
		}
	}
	return best, best != ""
}

// errNoSSORole is the answer to a person the proxy signed in whose groups
// grant no role.
func (p *ProxyAuth) errNoSSORole(name string) error {
	groups := make([]string, len(p.Roles))
	for i, gr := range p.Roles {
		groups[i] = gr.Group
	}
	return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
		"You are signed in as %s, but none of your groups gives access to hubdesk. "+
			"Ask an administrator to add you to one of these groups: %s.", name, strings.Join(groups, ", ")))
}

// errBadSSOName answers a user name no person has; the proxy is
// misconfigured.
var errBadSSOName = echo.NewHTTPError(http.StatusBadRequest,
	"The sign-on proxy sent a user name hubdesk cannot use. Ask an administrator to check the proxy.")

// proxyUser is the person the trusted proxy names in this request. ok is
// false when the request carries no such name or comes from elsewhere, and
// the normal sign-in applies; err refuses a named person without a role.
// The identity lives only for the request: nothing is stored, so removing
// someone from the group at the identity provider takes effect at once.
func (h *Handler) proxyUser(c echo.Context) (u storage.User, ok bool, err error) {
	p := h.ProxyAuth
	if p == nil || p.UserHeader == "" {
		return storage.User{}, false, nil
	}
	req := c.Request()
	name := strings.TrimSpace(req.Header.Get(p.UserHeader))
	if name == "" {
		return storage.User{}, false, nil
	}
	if !p.trusts(req.RemoteAddr) {
		// Someone is asserting an identity around the proxy: ignore it,
		// but make it visible.
		h.Logger.Warn("sso: ignored user header from an untrusted address",
			"header", p.UserHeader, "asserted", truncate(name, 64), "remote", req.RemoteAddr)
		return storage.User{}, false, nil
	}
	if len(name) > maxSSONameLength || strings.ContainsFunc(name, unicode.IsControl) {
		return storage.User{}, false, errBadSSOName
	}
	var groups []string
	if p.GroupsHeader != "" {
		for _, v := range req.Header.Values(p.GroupsHeader) {
			groups = append(groups, splitList(v)...)
		}
	}
	role, found := p.roleFor(groups)
	if !found {
		return storage.User{}, false, p.errNoSSORole(name)
	}
	return storage.User{Name: name + ssoSuffix, Role: role}, true, nil
}
