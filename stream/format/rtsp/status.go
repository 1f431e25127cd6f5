package rtsp

import "strconv"

// Status codes of RFC 2326 section 7.1.1 that this server sends.
const (
	StatusOK                     = 200
	StatusBadRequest             = 400
	StatusUnauthorized           = 401
	StatusForbidden              = 403
	StatusNotFound               = 404
	StatusMethodNotAllowed       = 405
	StatusRequestEntityTooLarge  = 413
	StatusRequestURITooLarge     = 414
	StatusParameterNotUnderstood = 451
	StatusNotEnoughBandwidth     = 453
	StatusSessionNotFound        = 454
	StatusMethodNotValidInState  = 455
	StatusAggregateNotAllowed    = 459
	StatusUnsupportedTransport   = 461
	StatusInternalServerError    = 500
	StatusNotImplemented         = 501
	StatusServiceUnavailable     = 503
	StatusVersionNotSupported    = 505
	StatusOptionNotSupported     = 551
)

var statusText = map[int]string{
	StatusOK:                     "OK",
	StatusBadRequest:             "Bad Request",
	StatusUnauthorized:           "Unauthorized",
	StatusForbidden:              "Forbidden",
	StatusNotFound:               "Not Found",
	StatusMethodNotAllowed:       "Method Not Allowed",
	StatusRequestEntityTooLarge:  "Request Entity Too Large",
	StatusRequestURITooLarge:     "Request-URI Too Large",
	StatusParameterNotUnderstood: "Parameter Not Understood",
	StatusNotEnoughBandwidth:     "Not Enough Bandwidth",
	StatusSessionNotFound:        "Session Not Found",
	StatusMethodNotValidInState:  "Method Not Valid in This State",
	StatusAggregateNotAllowed:    "Aggregate operation not allowed",
	StatusUnsupportedTransport:   "Unsupported transport",
	StatusInternalServerError:    "Internal Server Error",
	StatusNotImplemented:         "Not Implemented",
	StatusServiceUnavailable:     "Service Unavailable",
	StatusVersionNotSupported:    "RTSP Version not supported",
	StatusOptionNotSupported:     "Option not supported",
}

// StatusText returns the reason phrase for a status code.
func StatusText(code int) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	return "Status " + strconv.Itoa(code)
}
