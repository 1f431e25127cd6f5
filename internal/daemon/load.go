package daemon

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// sourceHelp is what the source key accepts.
const sourceHelp = "accepted values are pattern, a V4L2 device such as /dev/video0 or /dev/v4l/by-id/..., libcamera, libcamera:N, argus:N, exec:COMMAND, or a video file"

// LoadConfig builds the configuration from defaults, the config file,
// FLOWCAM_* environment variables and flags, in increasing precedence.
func LoadConfig(args []string, stderr io.Writer) (*Config, error) {
	v := viper.New()
	fs := pflag.NewFlagSet("flowcamd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &Config{}
	fs.StringVar(&cfg.File, "config", os.Getenv("FLOWCAM_CONFIG"), "YAML config file (see configs/flowcamd.yaml)")
	fs.BoolVar(&cfg.ShowVersion, "version", false, "print version and build information, then exit")
	fs.BoolVar(&cfg.ListInterfaces, "list-interfaces", false, "list network interfaces (for multiflow.interfaces), then exit")
	fs.BoolVar(&cfg.ListDevices, "list-devices", false, "list V4L2 video devices, then exit")
	fs.StringVar(&cfg.ListFormats, "list-formats", "", "list the formats, sizes and frame rates of a V4L2 `device`, then exit")
	bindFlags(fs, v)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 2 && fs.Arg(0) == "hash-password" {
		cfg.HashUser = fs.Arg(1)
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --; the one command is: hash-password NAME)", fs.Arg(0))
	}
	for _, d := range defaults {
		v.SetDefault(d.key, d.val)
	}
	v.SetEnvPrefix("FLOWCAM")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// An empty FLOWCAM_* variable counts as unset (an empty duration or
	// number means nothing), except for http.addr, where "" turns HTTP off
	// as --http-addr "" does.
	if addr, set := os.LookupEnv("FLOWCAM_HTTP_ADDR"); set && addr == "" && !fs.Changed("http-addr") {
		v.Set("http.addr", "")
	}
	if cfg.File != "" {
		v.SetConfigFile(cfg.File)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", cfg.File, err)
		}
	}
	if err := decode(v, &cfg.Settings); err != nil {
		return nil, fmt.Errorf("config%s: %w", inFile(cfg.File), err)
	}
	if err := cfg.resolve(); err != nil {
		return nil, fmt.Errorf("config%s: %w", inFile(cfg.File), err)
	}
	return cfg, nil
}

// bindFlags defines a flag for each entry of flags, with the key's default.
func bindFlags(fs *pflag.FlagSet, v *viper.Viper) {
	for _, f := range flags {
		switch d := defaults.get(f.key).(type) {
		case int:
			fs.Int(f.name, d, f.usage)
		case float64:
			fs.Float64(f.name, d, f.usage)
		case time.Duration:
			fs.Duration(f.name, d, f.usage)
		case bool:
			fs.Bool(f.name, d, f.usage)
		case []string:
			fs.StringArray(f.name, d, f.usage)
		default:
			fs.String(f.name, fmt.Sprint(d), f.usage)
		}
		v.BindPFlag(f.key, fs.Lookup(f.name))
	}
}

// decode fills s from v. Every problem is reported at once, each naming
// its key: values a type refused, values of the wrong kind, unknown keys.
func decode(v *viper.Viper, s *Settings) error {
	err := v.Unmarshal(s, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook, mapstructure.StringToSliceHookFunc(","), textHook)))
	var problems []error
	if err != nil {
		problems = describe(err)
	}
	// The decoder stops tracking unknown keys in a section with a bad
	// value, so they are found from the settings' own shape instead.
	unknown := unknownKeys("", v.AllSettings(), reflect.TypeFor[Settings]())
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, unknownKey(k))
	}
	return errors.Join(problems...)
}

// unknownKeys lists the keys in data that no mapstructure tag of struct
// type t (or of its sections and list entries) names.
func unknownKeys(prefix string, data any, t reflect.Type) []string {
	m := reflect.ValueOf(data)
	if m.Kind() != reflect.Map || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	fieldsOf(t, fields)
	var out []string
	for it := m.MapRange(); it.Next(); {
		k, val := fmt.Sprint(it.Key().Interface()), it.Value().Interface()
		ft, ok := fields[strings.ToLower(k)]
		switch {
		case !ok:
			out = append(out, prefix+k)
		case ft.Kind() == reflect.Struct:
			out = append(out, unknownKeys(prefix+k+".", val, ft)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			list, _ := val.([]any)
			for i, e := range list {
				out = append(out, unknownKeys(fmt.Sprintf("%s%s[%d].", prefix, k, i), e, ft.Elem())...)
			}
		}
	}
	return out
}

// fieldsOf maps each key of struct type t to its field type, looking
// through squashed embedded structs.
func fieldsOf(t reflect.Type, into map[string]reflect.Type) {
	for f := range t.Fields() {
		tag := f.Tag.Get("mapstructure")
		switch {
		case tag == "-":
		case strings.HasSuffix(tag, ",squash"):
			fieldsOf(f.Type, into)
		case tag != "":
			into[tag] = f.Type
		}
	}
}

func unknownKey(k string) error {
	if strings.HasPrefix(k, "streams[") {
		return fmt.Errorf("%s: unknown key (stream keys are path, source, size, fps, quality, encoder, codec, idle, loop, rate, publish, record)", k)
	}
	return fmt.Errorf("%s: unknown key (every key is documented in configs/flowcamd.yaml)", k)
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// durationHook reads durations, refusing what is not one in our words.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	text := reflect.ValueOf(data).String()
	d, err := time.ParseDuration(text)
	if err != nil {
		return nil, refuse([]byte(text), "must be a duration such as 5s or 1m30s")
	}
	return d, nil
}

// textHook hands a scalar to the target type's UnmarshalText, whatever
// kind the YAML or environment gave it (fps: 25 is a number, --fps 25 a
// string), so a typed value checks every value it is given.
func textHook(from, to reflect.Type, data any) (any, error) {
	if from == to || !reflect.PointerTo(to).Implements(textUnmarshaler) {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
	default:
		return data, nil
	}
	out := reflect.New(to)
	if err := out.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(fmt.Sprint(data))); err != nil {
		return nil, err
	}
	return out.Elem().Interface(), nil
}

// describe turns the decoder's errors into one error per key, in our words.
func describe(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, describe(e)...)
		}
		return out
	}
	de, ok := err.(*mapstructure.DecodeError)
	if !ok {
		if inner := errors.Unwrap(err); inner != nil {
			return describe(inner)
		}
		return []error{err}
	}
	inner := de.Unwrap()
	if _, nested := inner.(*mapstructure.DecodeError); nested {
		return describe(inner)
	}
	if _, joined := inner.(interface{ Unwrap() []error }); joined {
		return describe(inner)
	}
	return []error{keyError(de.Name(), inner)}
}

// keyError says what key holds and what it must be.
func keyError(key string, err error) error {
	var ve *valueError
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &ve):
		return fmt.Errorf("%s = %w", key, ve)
	case errors.As(err, &pe):
		return fmt.Errorf("%s = %s: must be %s", key, shown(fmt.Sprint(pe.Value)), kindHelp(pe.Expected.Type()))
	case errors.As(err, &ue):
		return fmt.Errorf("%s = %s: must be %s", key, shown(fmt.Sprint(ue.Value)), kindHelp(ue.Expected.Type()))
	}
	return fmt.Errorf("%s: %w", key, err)
}

func kindHelp(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 5s or 1m30s"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return "a section of keys"
	}
	return "a " + t.String()
}

func inFile(f string) string {
	if f == "" {
		return ""
	}
	return " " + f
}
