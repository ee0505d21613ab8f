package handlers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hubdesk/hubdesk/hub"
)

// Metrics are the dashboard's Prometheus metrics, served at /metrics.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.HistogramVec
	hubCalls  *prometheus.HistogramVec
	conflicts *prometheus.CounterVec
	sessions  *prometheus.CounterVec
}

// NewMetrics returns the metrics with Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hubdesk_http_request_duration_seconds",
			Help:    "Time to answer a dashboard request, by route template, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		hubCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hubdesk_hub_call_duration_seconds",
			Help:    "Time of an IoT Hub operation including retries, by operation and outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"op", "outcome"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubdesk_edit_conflicts_total",
			Help: "Saves the hub refused because the item changed since it was loaded (412), by kind.",
		}, []string{"kind"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubdesk_sign_ins_total",
			Help: "Sign-in attempts and sign-outs, by result: ok, refused, rate_limited, signed_out.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.hubCalls, m.conflicts, m.sessions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveHub records a finished hub call; pass it to hub.WithObserver.
func (m *Metrics) ObserveHub(c hub.Call) {
	m.hubCalls.WithLabelValues(c.Op, hubOutcome(c.Err)).Observe(c.Duration.Seconds())
}

// hubOutcome is a small, fixed set of labels for hub errors.
func hubOutcome(err error) string {
	var netErr net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, hub.ErrPreconditionFailed):
		return "precondition_failed"
	case errors.Is(err, hub.ErrNotFound):
		return "not_found"
	case errors.Is(err, hub.ErrThrottled):
		return "throttled"
	case errors.Is(err, hub.ErrUnauthorized), errors.Is(err, hub.ErrForbidden):
		return "unauthorized"
	case errors.Is(err, hub.ErrServer):
		return "server_error"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return "unreachable"
	}
	return "refused"
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// measure records every request's duration under its route template, so
// device ids never become label values.
func (m *Metrics) measure(now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(c.Response().Status)).Observe(now().Sub(start).Seconds())
			return nil
		}
	}
}

// conflict counts a 412 of the given kind ("twin", "identity", ...).
func (h *Handler) conflict(kind string) {
	if h.Metrics != nil {
		h.Metrics.conflicts.WithLabelValues(kind).Inc()
	}
}

// signIn counts a sign-in result.
func (h *Handler) signIn(result string) {
	if h.Metrics != nil {
		h.Metrics.sessions.WithLabelValues(result).Inc()
	}
}
