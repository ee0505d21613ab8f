package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
	"github.com/hubdesk/hubdesk/views"
)

// The twin edit pipeline: editor -> review -> save, and after a 412 the
// rebase or conflict prompt. Every step posts the whole edit (base etag,
// base sections and draft) in hidden fields, so any replica can serve any
// step, two tabs never share state, and no step can lose the draft.

// twinTarget is the twin a request is about: a device's or a module's.
type twinTarget struct{ deviceID, moduleID string }

func targetOf(c echo.Context) twinTarget {
	return twinTarget{deviceID: pathParam(c, "id"), moduleID: pathParam(c, "mid")}
}

// url is the twin editor's URL; its actions are below it.
func (t twinTarget) url() string {
	if t.moduleID == "" {
		return deviceURL(t.deviceID) + "/twin"
	}
	return moduleURL(t.deviceID, t.moduleID) + "/twin"
}

// readOnly says why the dashboard does not edit this twin, "" if it does.
// The runtime's own modules ($edgeAgent, $edgeHub) are configured through
// deployments; editing their twins by hand breaks the next deployment.
func (t twinTarget) readOnly() string {
	if strings.HasPrefix(t.moduleID, "$") {
		return t.moduleID + " is an IoT Edge system module: its twin is managed by deployments and is read-only here."
	}
	return ""
}

func (t twinTarget) view() views.TwinTarget {
	v := views.TwinTarget{
		DeviceID:  t.deviceID,
		ModuleID:  t.moduleID,
		DeviceURL: deviceURL(t.deviceID),
		URL:       t.url(),
		DraftKey:  "hubdesk:draft:" + t.url(),
	}
	if t.moduleID != "" {
		v.ModuleURL = moduleURL(t.deviceID, t.moduleID)
	}
	return v
}

func (h *Handler) getTwin(ctx context.Context, t twinTarget) (*hub.Twin, error) {
	if t.moduleID == "" {
		return h.Hub.GetTwin(ctx, t.deviceID)
	}
	return h.Hub.GetModuleTwin(ctx, t.deviceID, t.moduleID)
}

// writeTwin sends body as a merge patch (PATCH) or, in replace mode, as the
// whole twin (PUT).
func (h *Handler) writeTwin(ctx context.Context, t twinTarget, replace bool, body []byte, cond hub.Condition) (*hub.Twin, error) {
	switch {
	case replace && t.moduleID == "":
		return h.Hub.ReplaceTwin(ctx, t.deviceID, body, cond)
	case replace:
		return h.Hub.ReplaceModuleTwin(ctx, t.deviceID, t.moduleID, body, cond)
	case t.moduleID == "":
		return h.Hub.UpdateTwin(ctx, t.deviceID, body, cond)
	default:
		return h.Hub.UpdateModuleTwin(ctx, t.deviceID, t.moduleID, body, cond)
	}
}

// twinForm is an edit in progress as posted by any step of the pipeline.
type twinForm struct {
	etag    string
	base    twinedit.Doc
	draft   twinedit.Doc
	replace bool
	reason  string
}

// maxReason bounds the optional reason a person gives for a change.
const maxReason = 500

func readTwinForm(c echo.Context) twinForm {
	reason := strings.TrimSpace(c.FormValue("reason"))
	if len(reason) > maxReason {
		reason = truncate(reason, maxReason)
	}
	return twinForm{
		etag:    c.FormValue("etag"),
		base:    twinedit.Doc{Tags: json.RawMessage(c.FormValue("base_tags")), Desired: json.RawMessage(c.FormValue("base_desired"))},
		draft:   twinedit.Doc{Tags: json.RawMessage(c.FormValue("tags")), Desired: json.RawMessage(c.FormValue("desired"))},
		replace: c.FormValue("mode") == "replace",
		reason:  reason,
	}
}

func (f twinForm) view() views.TwinForm {
	mode := "patch"
	if f.replace {
		mode = "replace"
	}
	return views.TwinForm{
		ETag:        f.etag,
		BaseTags:    string(f.base.Tags),
		BaseDesired: string(f.base.Desired),
		Tags:        string(f.draft.Tags),
		Desired:     string(f.draft.Desired),
		Mode:        mode,
		Reason:      f.reason,
	}
}

// editableDoc is a twin's tags and desired properties as the editors show
// them.
func editableDoc(tw *hub.Twin) (twinedit.Doc, error) {
	tags, err := twinedit.Editable(tw.Tags)
	if err != nil {
		return twinedit.Doc{}, fmt.Errorf("twin tags: %w", err)
	}
	desired, err := twinedit.Editable(tw.Properties.Desired)
	if err != nil {
		return twinedit.Doc{}, fmt.Errorf("twin desired properties: %w", err)
	}
	return twinedit.Doc{Tags: tags, Desired: desired}, nil
}

// showTwin is the twin editor loaded fresh from the hub.
func (h *Handler) showTwin(c echo.Context) error {
	t := targetOf(c)
	tw, err := h.getTwin(c.Request().Context(), t)
	if err != nil {
		return err
	}
	doc, err := editableDoc(tw)
	if err != nil {
		return err
	}
	f := twinForm{etag: tw.ETag, base: doc, draft: doc}
	m, err := h.twinEditor(c, t, tw, f)
	if err != nil {
		return err
	}
	if cleared, ok := h.session(c).Values[keyDraftsSaved].(string); ok {
		m.ClearDrafts = cleared
		s := h.session(c)
		delete(s.Values, keyDraftsSaved)
		if err := s.Save(c.Request(), c.Response()); err != nil {
			h.Logger.Warn("save session", "err", err)
		}
	}
	return render(c, http.StatusOK, views.TwinEditorPage(m))
}

// twinEditor builds the editor page for an edit in progress: the facts and
// reported properties from tw (the twin now), the editors from f.
func (h *Handler) twinEditor(c echo.Context, t twinTarget, tw *hub.Twin, f twinForm) (views.TwinEditor, error) {
	m := views.TwinEditor{
		Page:     h.page(c, t.view().Label()+" · "+t.name(), "devices"),
		Target:   t.view(),
		Facts:    twinFacts(tw),
		ReadOnly: t.readOnly(),
		Form:     f.view(),
	}
	m.Scripts = []string{h.Assets.URL("vendor/codemirror.min.js"), h.Assets.URL("validate.js"), h.Assets.URL("editor.js")}
	reported, err := twinedit.Editable(tw.Properties.Reported)
	if err != nil {
		return m, fmt.Errorf("twin reported properties: %w", err)
	}
	m.Reported = string(reported)
	m.Compared = compare(h.Now(), tw.Properties.Desired, tw.Properties.Reported)
	return m, nil
}

func (t twinTarget) name() string {
	if t.moduleID == "" {
		return t.deviceID
	}
	return t.deviceID + "/" + t.moduleID
}

// editTwin re-opens the editor on a posted draft ("Back to editing"): the
// twin's facts are fetched fresh, the draft and its base are the posted
// ones.
func (h *Handler) editTwin(c echo.Context) error {
	t := targetOf(c)
	return h.renderEditor(c, t, readTwinForm(c), http.StatusOK, nil, "")
}

// renderEditor shows f in the editor with errs or a notice. A hub error
// while fetching the facts is shown, but the draft is still rendered.
func (h *Handler) renderEditor(c echo.Context, t twinTarget, f twinForm, status int, errs []views.FieldError, notice string) error {
	tw, err := h.getTwin(c.Request().Context(), t)
	if err != nil {
		if !keepsDraft(err) {
			return err
		}
		notice = strings.TrimSpace(notice + " The twin could not be loaded from the hub (" + classify(err).heading + "); your draft is below.")
		tw = &hub.Twin{DeviceID: t.deviceID, ModuleID: t.moduleID}
	}
	m, err := h.twinEditor(c, t, tw, f)
	if err != nil {
		return err
	}
	m.Errors, m.Notice = errs, notice
	return render(c, status, views.TwinEditorPage(m))
}

// keepsDraft reports whether err is a passing hub problem after which the
// page should still show the person's draft rather than an error page.
func keepsDraft(err error) bool {
	return !errors.Is(err, hub.ErrNotFound) && !errors.Is(err, hub.ErrUnauthorized) && !errors.Is(err, hub.ErrForbidden)
}

// nothingChanged answers a review or save of a draft equal to its base.
const nothingChanged = "Nothing changed, so there is nothing to save. Nothing was sent to the hub."

// writableTarget is the request's twin, refused when it is read-only here.
func writableTarget(c echo.Context) (twinTarget, error) {
	t := targetOf(c)
	if why := t.readOnly(); why != "" {
		return t, echo.NewHTTPError(http.StatusForbidden, why)
	}
	return t, nil
}

// checked prepares f, or answers with the editor holding f when the draft
// breaks a rule or, with notice nothing, changes nothing; done reports that
// an answer was sent (err is its error).
func (h *Handler) checked(c echo.Context, t twinTarget, f twinForm, nothing string) (p *prepared, done bool, err error) {
	p, errs := prepare(f)
	if errs != nil {
		return nil, true, h.renderEditor(c, t, f, http.StatusUnprocessableEntity, errs, "")
	}
	if p.change.Empty() {
		return nil, true, h.renderEditor(c, t, f, http.StatusOK, nil, nothing)
	}
	return p, false, nil
}

// prepared is a checked draft and the request that saves it.
type prepared struct {
	change *twinedit.Change
	method string
	body   []byte
}

// prepare checks f's draft against the hub's rules and computes the
// request that saves it. Problems come back as field errors naming the
// path, in the editors' terms.
func prepare(f twinForm) (*prepared, []views.FieldError) {
	ch, err := twinedit.Diff(f.base, f.draft)
	if err != nil {
		return nil, []views.FieldError{fieldError(err)}
	}
	var errs []views.FieldError
	if err := hub.ValidateSection(hub.SectionTags, orEmpty(f.draft.Tags)); err != nil {
		errs = append(errs, fieldError(err))
	}
	if err := hub.ValidateSection(hub.SectionDesired, orEmpty(f.draft.Desired)); err != nil {
		errs = append(errs, fieldError(err))
	}
	if errs != nil {
		return nil, errs
	}
	p := &prepared{change: ch, method: http.MethodPatch, body: ch.Body()}
	if f.replace {
		p.method = http.MethodPut
		p.body = replaceBody(f.draft)
	}
	return p, nil
}

func orEmpty(section json.RawMessage) []byte {
	if len(bytes.TrimSpace(section)) == 0 {
		return []byte("{}")
	}
	return section
}

// replaceBody is the PUT body of a replace: the whole tags and desired
// properties, compact. Sections were checked by prepare.
func replaceBody(d twinedit.Doc) []byte {
	var b bytes.Buffer
	b.WriteString(`{"tags":`)
	json.Compact(&b, orEmpty(d.Tags))
	b.WriteString(`,"properties":{"desired":`)
	json.Compact(&b, orEmpty(d.Desired))
	b.WriteString(`}}`)
	return b.Bytes()
}

// fieldError says which editor a draft problem is in, and where.
func fieldError(err error) views.FieldError {
	var syn *twinedit.SyntaxError
	var pe *twinedit.PathError
	var ve *hub.ValidationError
	switch {
	case errors.As(err, &syn):
		return views.FieldError{Field: syn.Section, Message: fmt.Sprintf("Not valid JSON at line %d, column %d: %s.", syn.Line, syn.Column, syn.Msg)}
	case errors.As(err, &pe):
		field := "tags"
		if len(pe.Path) > 0 && pe.Path[0] == "properties" {
			field = "desired"
		}
		return views.FieldError{Field: field, Path: displayPath(pe.Path), Message: capitalize(pe.Reason) + "."}
	case errors.As(err, &ve):
		return views.FieldError{Field: string(ve.Section), Path: ve.Path, Message: ve.Message}
	}
	return views.FieldError{Field: "desired", Message: err.Error()}
}

// displayPath is a twin path as people read it: desired.fw rather than
// properties.desired.fw.
func displayPath(p twinedit.Path) string {
	if len(p) >= 2 && p[0] == "properties" {
		return twinedit.Path(p[1:]).String()
	}
	return p.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func changesView(in []twinedit.PathChange) []views.PathChange {
	out := make([]views.PathChange, len(in))
	for i, c := range in {
		out[i] = views.PathChange{Path: displayPath(c.Path), Before: string(c.Before), After: string(c.After), Kind: string(c.Kind)}
	}
	return out
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// reviewTwin checks the draft and shows the exact request saving sends.
func (h *Handler) reviewTwin(c echo.Context) error {
	t, err := writableTarget(c)
	if err != nil {
		return err
	}
	f := readTwinForm(c)
	p, done, err := h.checked(c, t, f, nothingChanged)
	if done {
		return err
	}
	return render(c, http.StatusOK, views.TwinReviewPage(h.review(c, t, f, p)))
}

func (h *Handler) review(c echo.Context, t twinTarget, f twinForm, p *prepared) views.TwinReview {
	return views.TwinReview{
		Page:    h.page(c, "Review · "+t.name(), "devices"),
		Target:  t.view(),
		Form:    f.view(),
		Changes: changesView(p.change.Paths),
		Method:  p.method,
		Body:    indentJSON(p.body),
	}
}

// saveTwin sends the draft with If-Match of the base's etag. The request
// is computed again here from base and draft, never taken from the page.
func (h *Handler) saveTwin(c echo.Context) error {
	t, err := writableTarget(c)
	if err != nil {
		return err
	}
	f := readTwinForm(c)
	p, done, err := h.checked(c, t, f, nothingChanged)
	if done {
		return err
	}
	ctx, cancel := h.writeContext(c)
	tw, err := h.writeTwin(ctx, t, f.replace, p.body, hub.IfMatch(f.etag))
	cancel()
	entry := storage.AuditEntry{Action: storage.AuditTwinUpdate, DeviceID: t.deviceID, ModuleID: t.moduleID,
		Section: changedSections(p.change), ETagBefore: f.etag, Sent: string(p.body), Reason: f.reason}
	if f.replace {
		entry.Action = storage.AuditTwinReplace
	}
	entry.Before, entry.After = snapshots(p.change.Paths)
	if err != nil && uncertain(err) {
		return h.settleTwin(c, t, f, p, entry, err)
	}
	if err == nil {
		entry.ETagAfter = tw.ETag
	}
	h.audit(c, entry, err)
	switch {
	case err == nil:
		return h.twinSaved(c, t, savedMessage(p.change))
	case errors.Is(err, hub.ErrPreconditionFailed):
		h.conflict("twin")
		return h.twinConflict(c, t, f)
	case errors.Is(err, hub.ErrBadRequest):
		// The hub refused the content: a rule we do not check, or one it
		// applies differently. Show its words next to the draft.
		return h.renderEditor(c, t, f, http.StatusUnprocessableEntity,
			[]views.FieldError{{Field: "desired", Message: "The hub refused the change: " + hubMessage(err)}}, "")
	case !keepsDraft(err):
		return err
	}
	// The hub refused the write (throttled or unavailable, after the
	// client's retries): nothing was applied.
	m := h.review(c, t, f, p)
	o := classify(err)
	m.Error = o.heading + ": " + o.detail + " Nothing was saved; your draft is kept."
	return render(c, o.status, views.TwinReviewPage(m))
}

// twinSaved answers a save the hub applied: flash msg, clear the
// browser's saved drafts, back to the twin.
func (h *Handler) twinSaved(c echo.Context, t twinTarget, msg string) error {
	h.addFlash(c, "ok", msg)
	s := h.session(c)
	s.Values[keyDraftsSaved] = draftKeys(t)
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Logger.Warn("save session", "err", err)
	}
	return redirect(c, t.url())
}

// settleTwin answers a save that failed with err, an uncertain error, by
// reading the twin back: a save that was applied counts as saved and is
// not sent again; one overtaken by someone else's write goes to the
// conflict prompt; otherwise the draft is offered again, saying what is
// known.
func (h *Handler) settleTwin(c echo.Context, t twinTarget, f twinForm, p *prepared, entry storage.AuditEntry, err error) error {
	var now *hub.Twin
	var theirs twinedit.Doc
	fate, rerr := h.settle(c, f.etag, func(ctx context.Context) (string, bool, error) {
		tw, err := h.getTwin(ctx, t)
		if err != nil {
			return "", false, err
		}
		doc, err := editableDoc(tw)
		if err != nil {
			return "", false, err
		}
		now, theirs = tw, doc
		return tw.ETag, holdsDraft(f, doc), nil
	})
	switch fate {
	case applied:
		entry.ETagAfter, entry.Detail = now.ETag, confirmedDetail
		h.audit(c, entry, nil)
		return h.twinSaved(c, t, savedMessage(p.change)+" Confirmed by reading the twin back: the hub was slow to answer.")
	case overtaken:
		h.audit(c, entry, &unsettled{err: err, fate: fate})
		h.conflict("twin")
		return h.renderConflict(c, t, f, now.ETag, theirs,
			noAnswer(err)+", and reading the twin back showed that someone else changed it meanwhile.")
	}
	h.audit(c, entry, &unsettled{err: err, fate: fate})
	m := h.review(c, t, f, p)
	if fate == notApplied {
		m.Error = noAnswer(err) + "; nothing was saved; your draft is kept. Reading the twin back showed it unchanged, so saving again is safe."
		return render(c, classify(err).status, views.TwinReviewPage(m))
	}
	if !keepsDraft(rerr) {
		return rerr
	}
	// The save below is the same request with If-Match of the version the
	// person loaded: if the first one was applied, the hub refuses this
	// one with 412 and the person lands on the conflict prompt; the patch
	// is never applied twice.
	m.Error = noAnswer(err) + ", and the twin could not be read back to check (" + classify(rerr).heading +
		"): whether your change was saved is unknown. Your draft is kept. " + resendIsSafe
	return render(c, classify(err).status, views.TwinReviewPage(m))
}

// holdsDraft reports whether the twin's tags and desired properties, now,
// hold f's change: in replace mode the whole draft, else the draft's value
// at every path the change touched, whatever else changed around them.
func holdsDraft(f twinForm, now twinedit.Doc) bool {
	if f.replace {
		ch, err := twinedit.Diff(now, f.draft)
		return err == nil && ch.Empty()
	}
	r, err := twinedit.Rebase(f.base, now, f.draft)
	return err == nil && r.Patch != nil && r.Patch.Empty()
}

func hubMessage(err error) string {
	var he *hub.Error
	if errors.As(err, &he) && he.Message != "" {
		return he.Message
	}
	return "no reason given"
}

// draftKeys are the browser's saved-draft keys of t's editors, which a
// successful save makes obsolete.
func draftKeys(t twinTarget) string {
	k := t.view().DraftKey
	return k + ":tags " + k + ":desired"
}

// savedMessage names what a save changed, for the flash after it.
func savedMessage(ch *twinedit.Change) string {
	const shown = 5
	var names []string
	for i, p := range ch.Paths {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(ch.Paths)-shown))
			break
		}
		names = append(names, displayPath(p.Path)+" ("+string(p.Kind)+")")
	}
	return "Saved " + plural(len(ch.Paths), "change") + ": " + strings.Join(names, ", ") + "."
}

// twinConflict answers a 412: the twin changed since the person loaded it.
// It fetches the twin as it is now and compares, path by path, what
// changed underneath with the draft.
func (h *Handler) twinConflict(c echo.Context, t twinTarget, f twinForm) error {
	tw, err := h.getTwin(c.Request().Context(), t)
	if err != nil {
		if !keepsDraft(err) {
			return err
		}
		return h.renderEditor(c, t, f, classify(err).status, nil, "The twin changed on the hub since you loaded it, and its current version could not be fetched.")
	}
	theirs, err := editableDoc(tw)
	if err != nil {
		return err
	}
	return h.renderConflict(c, t, f, tw.ETag, theirs, "")
}

// renderConflict shows the draft f against theirs, the version now on the
// hub, with problem (if any) at the top.
func (h *Handler) renderConflict(c echo.Context, t twinTarget, f twinForm, theirETag string, theirs twinedit.Doc, problem string) error {
	r, err := twinedit.Rebase(f.base, theirs, f.draft)
	if err != nil {
		// The draft was checked by prepare; only a broken base or hub
		// document gets here.
		return fmt.Errorf("comparing versions: %w", err)
	}
	u, _ := currentUser(c)
	m := views.TwinConflict{
		Page:         h.page(c, "Changed underneath · "+t.name(), "devices"),
		Target:       t.view(),
		Form:         f.view(),
		TheirETag:    theirETag,
		TheirTags:    string(theirs.Tags),
		TheirDesired: string(theirs.Desired),
		Underneath:   changesView(r.TheirChanges),
		Lost:         changesView(r.Lost),
		CanOverride:  u.Role.Allows(roleOverwrite),
	}
	if problem != "" {
		m.Flashes = append(m.Flashes, views.Flash{Kind: "bad", Text: problem})
	}
	for _, cf := range r.Conflicts {
		m.Conflicts = append(m.Conflicts, views.Conflict{Path: displayPath(cf.Path), Key: cf.Path.String(), Base: string(cf.Base), Theirs: string(cf.Theirs), Mine: string(cf.Mine)})
	}
	if r.Merged != nil {
		merged := twinForm{etag: theirETag, base: theirs, draft: *r.Merged, replace: f.replace, reason: f.reason}
		mv := merged.view()
		m.Merged = &mv
		m.Changes = changesView(r.Patch.Paths)
		m.Method, m.Body = http.MethodPatch, indentJSON(r.Patch.Body())
		if f.replace {
			m.Method, m.Body = http.MethodPut, indentJSON(replaceBody(*r.Merged))
		}
	}
	return render(c, http.StatusConflict, views.TwinConflictPage(m))
}

// theirsForm reads the version a conflict page was shown against.
func theirsForm(c echo.Context) (etag string, theirs twinedit.Doc) {
	return c.FormValue("their_etag"), twinedit.Doc{
		Tags:    json.RawMessage(c.FormValue("their_tags")),
		Desired: json.RawMessage(c.FormValue("their_desired")),
	}
}

// resolveTwin applies the person's keep-mine / take-theirs choices and
// reviews the result against the latest version.
func (h *Handler) resolveTwin(c echo.Context) error {
	t, err := writableTarget(c)
	if err != nil {
		return err
	}
	f := readTwinForm(c)
	theirETag, theirs := theirsForm(c)
	r, err := twinedit.Rebase(f.base, theirs, f.draft)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The conflict form is damaged. Go back to the twin and start again.")
	}
	choices := make(map[string]twinedit.Choice, len(r.Conflicts))
	var missing []string
	for i, cf := range r.Conflicts {
		key := cf.Path.String()
		if c.FormValue("path"+strconv.Itoa(i)) != key {
			return echo.NewHTTPError(http.StatusBadRequest, "The conflict form does not match the conflicts. Go back to the twin and start again.")
		}
		switch c.FormValue("choice" + strconv.Itoa(i)) {
		case "mine":
			choices[key] = twinedit.KeepMine
		case "theirs":
			choices[key] = twinedit.TakeTheirs
		default:
			missing = append(missing, displayPath(cf.Path))
		}
	}
	if missing != nil {
		return h.renderConflict(c, t, f, theirETag, theirs, "Choose keep mine or take theirs for every row: "+strings.Join(missing, ", ")+".")
	}
	draft, err := twinedit.Resolve(r, choices)
	if err != nil {
		return fmt.Errorf("resolving conflicts: %w", err)
	}
	next := twinForm{etag: theirETag, base: theirs, draft: draft, replace: f.replace, reason: f.reason}
	p, done, err := h.checked(c, t, next, "With your choices the twin stays as it is now: nothing to save. Nothing was sent to the hub.")
	if done {
		return err
	}
	m := h.review(c, t, next, p)
	m.Underneath = changesView(r.TheirChanges)
	return render(c, http.StatusOK, views.TwinReviewPage(m))
}

// overwriteTwin previews "overwrite anyway": the draft saved exactly as
// it is over the latest version, listing every value of theirs it
// discards. It is still sent with If-Match of the latest etag, so a third
// change in between is caught too.
func (h *Handler) overwriteTwin(c echo.Context) error {
	t, err := writableTarget(c)
	if err != nil {
		return err
	}
	f := readTwinForm(c)
	theirETag, theirs := theirsForm(c)
	ch, err := twinedit.Overwrite(theirs, f.draft)
	if err != nil {
		return h.renderEditor(c, t, f, http.StatusUnprocessableEntity, []views.FieldError{fieldError(err)}, "")
	}
	next := twinForm{etag: theirETag, base: theirs, draft: f.draft, replace: f.replace, reason: f.reason}
	p, done, err := h.checked(c, t, next, "The twin already holds your draft: nothing to save.")
	if done {
		return err
	}
	m := h.review(c, t, next, p)
	m.Lost = changesView(ch.Lost)
	return render(c, http.StatusOK, views.TwinReviewPage(m))
}

// pathParam is a path parameter, unescaped. Echo routes on the raw path
// when the request's escaping differs from the default one (an id holding
// %2F, say), and its parameters are then still escaped; otherwise they
// come from the decoded path and must not be unescaped twice.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// moduleURL is the dashboard's URL of a module.
func moduleURL(deviceID, moduleID string) string {
	return deviceURL(deviceID) + "/modules/" + url.PathEscape(moduleID)
}
