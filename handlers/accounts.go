package handlers

import "github.com/labstack/echo/v4"

// registerAccounts installs the account administration pages.
func (h *Handler) registerAccounts(app, admin *echo.Group) {}
