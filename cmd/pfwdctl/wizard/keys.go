package wizard

import (
	"github.com/charmbracelet/bubbles/key"
)

// keyMap is every key the wizard answers to; setScreen enables the ones
// that mean something on the current screen, so the help line never lists
// a key that does nothing.
type keyMap struct {
	Next, Back, Tab, ShiftTab, Recheck, Remove, Up, Down, PgUp, PgDn, Top, Bottom, Help, Quit, QuitQ key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Tab:      key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
		ShiftTab: key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous field")),
		Recheck:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "check again")),
		// ctrl+x: textinput binds every other ctrl key a typist reaches for.
		Remove: key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "remove the last key added")),
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		PgUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PgDn:   key.NewBinding(key.WithKeys("pgdown", "f", " "), key.WithHelp("pgdn", "page down")),
		Top:    key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "top")),
		Bottom: key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "end")),
		Help:   key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more")),
		Quit:   key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit without changes")),
		QuitQ:  key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	}
}

func (k *keyMap) setScreen(m *Model) {
	for _, b := range []*key.Binding{&k.Next, &k.Back, &k.Tab, &k.ShiftTab, &k.Recheck, &k.Remove, &k.Up, &k.Down, &k.PgUp, &k.PgDn, &k.Top, &k.Bottom, &k.QuitQ} {
		b.SetEnabled(false)
	}
	k.Recheck.SetHelp("r", "check again")
	k.Back.SetEnabled(m.screen > scrHost && m.screen <= scrReview)
	k.Quit.SetHelp("ctrl+c", "quit without changes")
	if m.screen >= scrApply {
		k.Quit.SetHelp("ctrl+c", "quit")
	}
	next := "next"
	switch m.screen {
	case scrHost:
		k.Next.SetEnabled(true)
		k.Recheck.SetEnabled(true)
	case scrAccount:
		k.Next.SetEnabled(true)
		k.Tab.SetEnabled(true)
	case scrKeys:
		k.Next.SetEnabled(true)
		k.Tab.SetEnabled(true)
		k.ShiftTab.SetEnabled(true)
		k.Remove.SetEnabled(len(m.friends) > 0)
		next = "queue key / continue when empty"
	case scrReview:
		k.Up.SetEnabled(true)
		k.Down.SetEnabled(true)
		k.PgUp.SetEnabled(true)
		k.PgDn.SetEnabled(true)
		k.Top.SetEnabled(true)
		k.Bottom.SetEnabled(true)
		if m.cfg.DryRun {
			k.QuitQ.SetEnabled(true)
		} else if m.planErr == nil && m.guardErr == nil && m.keysErr == nil {
			k.Next.SetEnabled(true)
			next = "apply"
		}
	case scrApply:
		if m.applyDone {
			k.Next.SetEnabled(true)
			if m.applyError {
				next = "quit"
			} else {
				next = "prove it"
			}
		}
	case scrProve:
		k.Next.SetEnabled(!m.proving)
		k.Recheck.SetEnabled(!m.proving && m.cfg.prover() != nil)
		k.Recheck.SetHelp("r", "prove again on the port below")
	case scrDone:
		k.Next.SetEnabled(true)
		k.QuitQ.SetEnabled(true)
		next = "quit"
	}
	k.Next.SetHelp("enter", next)
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Back, k.Tab, k.Remove, k.Recheck, k.Down, k.QuitQ, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Back, k.Recheck},
		{k.Tab, k.ShiftTab, k.Remove},
		{k.Up, k.Down, k.PgUp, k.PgDn, k.Top, k.Bottom},
		{k.Help, k.QuitQ, k.Quit},
	}
}
