// Package static serves hubdesk's embedded CSS and JavaScript under
// content-hashed URLs, gzipped once at start-up and cached for a year.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed files
var files embed.FS

// Prefix is the URL path under which assets are served.
const Prefix = "/static/"

type asset struct {
	name        string
	contentType string
	raw, gz     []byte
	etag        string
}

// Assets holds the embedded files and their hashed names.
type Assets struct {
	byURL  map[string]*asset // "app.3f9a1c2b.js" -> asset
	byName map[string]string // "app.js" -> "/static/app.3f9a1c2b.js"
}

// New reads and compresses every embedded file.
func New() (*Assets, error) {
	a := &Assets{byURL: map[string]*asset{}, byName: map[string]string{}}
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "files/")
		sum := sha256.Sum256(raw)
		hash := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(raw)
		w.Close()
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.byURL[hashed] = &asset{name: name, contentType: ct, raw: raw, gz: gz.Bytes(), etag: `"` + hash + `"`}
		a.byName[name] = Prefix + hashed
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return a, nil
}

// URL returns the content-hashed URL of the named asset, such as
// "/static/app.3f9a1c2b.js" for "app.js". It panics for an unknown name:
// that is a programming error caught by any test rendering the page.
func (a *Assets) URL(name string) string {
	u, ok := a.byName[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return u
}

// GzipSize returns the compressed size of the named asset.
func (a *Assets) GzipSize(name string) int {
	return len(a.byURL[strings.TrimPrefix(a.URL(name), Prefix)].gz)
}

// ServeHTTP serves an asset by its hashed URL with a long cache lifetime.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	as, ok := a.byURL[strings.TrimPrefix(r.URL.Path, Prefix)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", as.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == as.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.raw
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = as.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
