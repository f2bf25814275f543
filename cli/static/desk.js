// The desk's only script: when synced changes arrive (server-sent events from /events),
// fetch this page again and swap in its <main>. Nothing moves under the person: while focus
// is inside the page or a form holds text, a "show the changes" button appears instead, and
// the swap waits for it. Announced through the polite live region. A hidden tab closes its
// event stream (a browser allows six connections to one host) and looks again when shown.
// Pages that opt out (`data-live="off"` on <main>: the outcomes report) never refresh.
// Without this script every page still works; it just does not update by itself.
'use strict';
(function () {
  if (!window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var main = document.getElementById('main');
  if (!main || main.getAttribute('data-live') === 'off') {
    return;
  }
  var live = document.getElementById('live');
  var offer = document.getElementById('updates');
  var source = null;
  var busy = false;
  var owed = false;

  function say(text) {
    if (live) {
      live.textContent = text;
    }
  }

  // The page's address without the notice of the action that led here.
  function address() {
    var query = new URLSearchParams(location.search);
    query.delete('done');
    var rest = query.toString();
    return location.pathname + (rest ? '?' + rest : '');
  }

  // Whether the person is working in the page: focus on something in <main>, or text typed.
  function working() {
    var current = document.getElementById('main');
    var active = document.activeElement;
    if (current && active && active !== current && current.contains(active)) {
      return true;
    }
    var boxes = document.querySelectorAll('textarea, input[type="text"]');
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value.trim() !== '') {
        return true;
      }
    }
    return false;
  }

  function swap(focus) {
    if (busy) {
      owed = true;
      return;
    }
    busy = true;
    owed = false;
    fetch(address(), { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (answer) {
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
        var current = document.getElementById('main');
        if (fresh && current) {
          current.replaceWith(document.adoptNode(fresh));
          if (offer) {
            offer.hidden = true;
          }
          document.documentElement.setAttribute('data-updated', String(Date.now()));
          if (focus) {
            fresh.focus();
          }
          say('Updated with changes from the team.');
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (owed) {
          changed();
        }
      });
  }

  function changed() {
    if (working()) {
      owed = false;
      if (offer) {
        offer.hidden = false;
      }
      say('New changes from the team have arrived. Use “Show the changes” when you are ready.');
      return;
    }
    swap(false);
  }

  function open() {
    if (source === null) {
      source = new EventSource('/events');
      source.addEventListener('changed', changed);
    }
  }

  function close() {
    if (source !== null) {
      source.close();
      source = null;
    }
  }

  if (offer) {
    offer.addEventListener('click', function () {
      swap(true);
    });
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') {
      close();
    } else {
      open();
      changed();
    }
  });
  window.addEventListener('pagehide', close);
  open();
})();
