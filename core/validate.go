package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/locales/en"
	ut "github.com/go-playground/universal-translator"
	"github.com/go-playground/validator/v10"
	entranslations "github.com/go-playground/validator/v10/translations/en"
)

// DecodeValid decodes ev's data into v, a non-nil pointer, and validates the
// result with the `validate` struct tags of github.com/go-playground/validator
// (field names in errors are the JSON names). It returns an *InvalidError
// saying what is wrong: StatusCode 400 when the data does not have the shape
// of v at all, 422 when fields have the wrong JSON type or fail validation.
// Unknown JSON members are ignored, as the Python package adds freely.
//
// Typed handlers call it; untyped ones may, to refuse data the same way.
func DecodeValid(ev *EventObject, v any) error {
	if ev == nil {
		return errors.New("kafka-broker: decode of a nil event")
	}
	data := ev.Data
	if len(data) == 0 {
		data = emptyObject
	}
	if err := json.Unmarshal(data, v); err != nil {
		return decodeError(ev.Event, err)
	}
	return validateValue(ev.Event, v)
}

func decodeError(event string, err error) *InvalidError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		fe := FieldError{Field: te.Field, Tag: "type", Message: fmt.Sprintf("%s must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)}
		return &InvalidError{Event: event, StatusCode: http.StatusUnprocessableEntity, Message: fe.Message, Fields: []FieldError{fe}, Err: err}
	}
	msg := "data cannot be decoded: " + err.Error()
	if errors.As(err, &te) {
		msg = fmt.Sprintf("data must be %s, not %s", jsonKind(te.Type), te.Value)
	}
	return &InvalidError{Event: event, StatusCode: http.StatusBadRequest, Message: msg, Err: err}
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

// validation is the validator with English messages, built on first use;
// validator.Validate caches struct metadata and is safe for concurrent use.
var validation = sync.OnceValue(func() *englishValidator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	english := en.New()
	trans, _ := ut.New(english, english).GetTranslator("en")
	if err := entranslations.RegisterDefaultTranslations(v, trans); err != nil {
		panic("kafka-broker: validator translations: " + err.Error())
	}
	return &englishValidator{v: v, trans: trans}
})

type englishValidator struct {
	v     *validator.Validate
	trans ut.Translator
}

// validateValue validates the struct v points to, if it is one.
func validateValue(event string, v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	val := validation()
	err := val.v.Struct(rv.Interface())
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return &InvalidError{Event: event, StatusCode: http.StatusUnprocessableEntity, Message: err.Error(), Err: err}
	}
	fields := make([]FieldError, len(verrs))
	msgs := make([]string, len(verrs))
	for i, fe := range verrs {
		// Namespace is "Type.field.sub[0]": the path without the type.
		_, path, _ := strings.Cut(fe.Namespace(), ".")
		msg := fe.Translate(val.trans)
		fields[i] = FieldError{Field: path, Tag: fe.Tag(), Message: msg}
		msgs[i] = msg
	}
	return &InvalidError{Event: event, StatusCode: http.StatusUnprocessableEntity,
		Message: strings.Join(msgs, "; "), Fields: fields, Err: err}
}
