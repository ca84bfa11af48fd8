// Package asyncapi describes a service's Kafka interface as an AsyncAPI 3.0.0
// document, built from its routers, and serves it with a docs page.
//
// The document has, for each described service, a channel for its Location
// with one receive operation per routing key its router binds (the full
// dotted key, wildcards as bound), the JSON Schema of each typed handler's
// data (core.HandleEvent, core.OnEvent; generated with invopop/jsonschema,
// with what the `validate` tags require) or an open schema for untyped
// ones, a reply on the requester's reply topic for request/reply handlers
// (its address the kafka_replyTopic header) with the reply type and the error
// reply, the dead-letter channel, and the envelope and Kafka headers as
// message traits. Each message has an example.
//
//	doc, err := asyncapi.Build(asyncapi.Info{Title: "Orders", Version: "1.4.0"}, asyncapi.ServiceOf(m))
//
// Docs is an http.Handler for GET /asyncapi.json, GET /docs (an HTML page,
// its script and stylesheet embedded: nothing is fetched from elsewhere) and,
// with WithTryIt, POST /docs/try; gininteg.Docs and echointeg.Docs mount it.
package asyncapi
