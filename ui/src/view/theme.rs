//! Styles. With NO_COLOR set there are no colours at all: states still read
//! from their words and symbols, and selection and banners use reverse video.

use ratatui::style::{Color, Modifier, Style};

use crate::model::Severity;

/// The selected row's background (xterm-256 grey 236).
const SELECTED_BG: Color = Color::Indexed(236);

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Theme { color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Info => Style::new(),
            Severity::Good => self.fg(Color::Green),
            Severity::Warn => self.fg(Color::Yellow),
            Severity::Bad => self.fg(Color::Red),
        }
    }

    /// Secondary text: column headers' neighbours, timestamps, disabled apps.
    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    /// A pane's border: the focused one stands out.
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.dim(),
        }
    }

    /// The selected row of a table or list.
    pub fn selected(&self, focused: bool) -> Style {
        match (focused, self.color) {
            // Darker than the dim text's grey, so dim cells stay readable on it.
            (true, true) => Style::new().bg(SELECTED_BG).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::REVERSED),
            (false, _) => Style::new().add_modifier(Modifier::BOLD),
        }
    }

    /// The full-width line that says the daemon is not there.
    pub fn banner(&self, severity: Severity) -> Style {
        if !self.color {
            return Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        let bg = match severity {
            Severity::Bad => Color::Red,
            Severity::Warn => Color::Yellow,
            Severity::Good => Color::Green,
            Severity::Info => Color::Blue,
        };
        Style::new()
            .fg(Color::Black)
            .bg(bg)
            .add_modifier(Modifier::BOLD)
    }
}
