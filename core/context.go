package core

import "context"

type managerKey struct{}

// NewContext returns a copy of ctx that carries m.
func NewContext(ctx context.Context, m *Manager) context.Context {
	return context.WithValue(ctx, managerKey{}, m)
}

// FromContext returns the Manager carried by ctx, if any. Handlers run by the
// Manager and requests through the Gin and Echo middlewares carry one.
func FromContext(ctx context.Context) (*Manager, bool) {
	m, ok := ctx.Value(managerKey{}).(*Manager)
	return m, ok && m != nil
}
