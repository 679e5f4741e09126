package web

import "strings"

// shortDevice describes a User-Agent header in a few words, as lists of
// sessions and audit entries show it: "Firefox on Windows", "Safari on
// iPhone", "curl". It knows the common browser and system families from a
// small table, checked in order (Edge and Opera say "Chrome" too, Chrome
// says "Safari", Android says "Linux"); anything else is its first product
// token, and an empty header is "Unknown device". The full header stays
// available for whoever needs it (the API, the title attribute).
func shortDevice(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown device"
	}
	browser := ""
	for _, b := range uaBrowsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range uaSystems {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	// A client that is not a browser: its product name, e.g. "curl/8.5".
	name, _, _ := strings.Cut(ua, "/")
	name, _, _ = strings.Cut(name, " ")
	if system != "" && name == "Mozilla" {
		return "Browser on " + system
	}
	return name
}

// uaFamily maps a token of a User-Agent header to a family's name.
type uaFamily struct{ token, name string }

// uaBrowsers are browser families, most specific token first.
var uaBrowsers = []uaFamily{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"HeadlessChrome/", "Headless Chrome"}, {"Chromium/", "Chromium"}, {"CriOS/", "Chrome"}, {"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
}

// uaSystems are operating systems, most specific token first.
var uaSystems = []uaFamily{
	{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
	{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
}
