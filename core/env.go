package core

import "strings"

// kafkaEnvVars are the environment variables with names of their own that
// set librdkafka properties; KAFKA_PROP_<NAME> sets any other.
var kafkaEnvVars = map[string]string{
	"KAFKA_SECURITY_PROTOCOL": "security.protocol",
	"KAFKA_SASL_MECHANISM":    "sasl.mechanism",
	"KAFKA_SASL_USERNAME":     "sasl.username",
	"KAFKA_SASL_PASSWORD":     "sasl.password",
}

// KafkaEnvProp returns the librdkafka property that the environment variable
// name sets: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
// KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD their own, KAFKA_PROP_<NAME>
// the property <NAME> lowercased with underscores become dots
// (KAFKA_PROP_SSL_CA_LOCATION sets ssl.ca.location). ok is false for any
// other name.
func KafkaEnvProp(name string) (prop string, ok bool) {
	if prop, ok := kafkaEnvVars[name]; ok {
		return prop, true
	}
	if rest, ok := strings.CutPrefix(name, "KAFKA_PROP_"); ok && rest != "" {
		return strings.ToLower(strings.ReplaceAll(rest, "_", ".")), true
	}
	return "", false
}

// KafkaPropsFromEnv returns the librdkafka properties that the variables in
// environ ("KEY=value", as os.Environ returns them) set, as KafkaEnvProp
// maps them; a KAFKA_PROP_<NAME> wins over a variable of its own for the
// same property. ConfigFromEnv fills Config.Kafka with it.
func KafkaPropsFromEnv(environ []string) map[string]any {
	props := map[string]any{}
	var generic []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		prop, ok := KafkaEnvProp(k)
		switch {
		case !ok:
		case strings.HasPrefix(k, "KAFKA_PROP_"):
			generic = append(generic, prop, v)
		default:
			props[prop] = v
		}
	}
	for i := 0; i < len(generic); i += 2 {
		props[generic[i]] = generic[i+1]
	}
	return props
}
