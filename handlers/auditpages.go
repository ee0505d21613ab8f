package handlers

import "github.com/labstack/echo/v4"

// registerAudit installs the audit trail's pages.
func (h *Handler) registerAudit(viewer, editor, admin *echo.Group) {}
