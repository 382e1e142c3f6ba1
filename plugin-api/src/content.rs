//! Which parts of a conversation's content a plugin captures, split as OpenTelemetry's GenAI
//! conventions and OpenClaw's own `diagnostics-otel` split them. The names and defaults live here
//! only: a plugin reads its setting with them, a host reads every plugin's setting with them to
//! decide what it reads from its payloads at all.
//!
//! A setting is `true` (the defaults), `false` (nothing), or an object of these names with
//! `true`/`false` values, where a name left out keeps its default.

/// The parts, each on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentParts {
    /// The user's prompt and the final answer (a trace's Input and Response), and a failed
    /// message's error text.
    pub previews: bool,
    /// The messages a model call received (its history and prompt; later calls the replies and
    /// tool results since).
    pub input_messages: bool,
    /// A model call's reply: text and the tool calls it asked for, and a failed call's error.
    pub output_messages: bool,
    /// A tool call's parameters.
    pub tool_inputs: bool,
    /// A tool call's result (and documents), and a failed call's error.
    pub tool_outputs: bool,
    /// The system prompt a run's model calls receive: tens of KB on every run, so off by default.
    pub system_prompt: bool,
    /// The tools a model call was offered, with their JSON schemas: off by default, like the system
    /// prompt.
    pub tool_definitions: bool,
}

impl ContentParts {
    /// What `true` (and no setting) means: everything but the system prompt and the tool
    /// definitions.
    pub const DEFAULT: ContentParts = ContentParts {
        previews: true,
        input_messages: true,
        output_messages: true,
        tool_inputs: true,
        tool_outputs: true,
        system_prompt: false,
        tool_definitions: false,
    };

    pub const NONE: ContentParts = ContentParts {
        previews: false,
        input_messages: false,
        output_messages: false,
        tool_inputs: false,
        tool_outputs: false,
        system_prompt: false,
        tool_definitions: false,
    };

    /// The names a setting's object uses, in the conventions' order.
    pub const NAMES: [&'static str; 7] =
        ["previews", "inputMessages", "outputMessages", "toolInputs", "toolOutputs", "systemPrompt", "toolDefinitions"];

    /// The part called `name` (one of [`ContentParts::NAMES`]), or `None` for an unknown name.
    pub fn part_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "previews" => &mut self.previews,
            "inputMessages" => &mut self.input_messages,
            "outputMessages" => &mut self.output_messages,
            "toolInputs" => &mut self.tool_inputs,
            "toolOutputs" => &mut self.tool_outputs,
            "systemPrompt" => &mut self.system_prompt,
            "toolDefinitions" => &mut self.tool_definitions,
            _ => return None,
        })
    }

    /// Whether the part called `name` is captured; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<bool> {
        let mut copy = *self;
        copy.part_mut(name).map(|on| *on)
    }

    /// The names of the parts captured, joined by commas; "none" when none is.
    pub fn names_on(&self) -> String {
        let on: Vec<&str> = ContentParts::NAMES.into_iter().filter(|n| self.get(n) == Some(true)).collect();
        if on.is_empty() {
            "none".to_string()
        } else {
            on.join(",")
        }
    }

    /// A model call's reply is kept: for its own span, and as a later call's input.
    pub fn keeps_replies(&self) -> bool {
        self.output_messages || self.input_messages
    }

    /// A tool's result is kept: for its own span, and as a later model call's input.
    pub fn keeps_tool_results(&self) -> bool {
        self.tool_outputs || self.input_messages
    }

    /// A model call's input messages are kept: the conversation, or the system prompt that leads it.
    pub fn keeps_model_input(&self) -> bool {
        self.input_messages || self.system_prompt
    }

    /// Whether any part is captured.
    pub fn any(&self) -> bool {
        *self != ContentParts::NONE
    }

    /// Every part either captures: what a host reads when it serves both.
    pub fn union(self, other: ContentParts) -> ContentParts {
        ContentParts {
            previews: self.previews || other.previews,
            input_messages: self.input_messages || other.input_messages,
            output_messages: self.output_messages || other.output_messages,
            tool_inputs: self.tool_inputs || other.tool_inputs,
            tool_outputs: self.tool_outputs || other.tool_outputs,
            system_prompt: self.system_prompt || other.system_prompt,
            tool_definitions: self.tool_definitions || other.tool_definitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reaches_its_own_part() {
        for name in ContentParts::NAMES {
            let mut parts = ContentParts::NONE;
            *parts.part_mut(name).unwrap() = true;
            assert!(parts.any());
            let others_off = ContentParts::NAMES.iter().filter(|n| **n != name).all(|n| parts.get(n) == Some(false));
            assert!(others_off, "{name} set another part too");
        }
        assert_eq!(ContentParts::NONE.get("systemprompt"), None, "names are exact");
        assert_eq!(ContentParts::NONE.union(ContentParts::DEFAULT), ContentParts::DEFAULT);
        assert_eq!(ContentParts::DEFAULT.names_on(), "previews,inputMessages,outputMessages,toolInputs,toolOutputs");
        assert_eq!(ContentParts::NONE.names_on(), "none");
    }
}
