// The desk's only script: when synced changes arrive (server-sent events from /events),
// fetch this page again and swap in its <main>, with a visible line saying it was updated.
// Nothing moves under the person: while focus is inside the page or a form holds text, a
// "show the changes" button appears instead, and the swap waits for it; text typed into a
// form survives the swap. A hidden tab closes its event stream (a browser allows six
// connections to one host); shown again, it reopens it from the records' generation the
// page was made at, and the desk says "changed" only if they have moved on since. Pages
// that opt out (`data-live="off"` on <main>: the outcomes report) never refresh. Without
// this script every page still works; it just does not update by itself.
'use strict';
(function () {
  if (!window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var first = document.getElementById('main');
  if (!first || first.getAttribute('data-live') === 'off') {
    return;
  }
  var live = document.getElementById('live');
  var offer = document.getElementById('updates');
  var source = null;
  var busy = false;
  var owed = false;

  function main() {
    return document.getElementById('main');
  }

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
    var current = main();
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

  function offerChanges() {
    if (offer) {
      offer.hidden = false;
    }
    say('New changes from the team have arrived. Use “Show the changes” when you are ready.');
  }

  // Carries what the person typed or chose into the fresh page, field by field (by id).
  function keepDrafts(from, to) {
    var fields = from.querySelectorAll('textarea[id], input[id]');
    for (var i = 0; i < fields.length; i++) {
      var mine = fields[i];
      var theirs = to.querySelector('#' + CSS.escape(mine.id));
      if (!theirs || mine.type === 'hidden') {
        continue;
      }
      if (mine.type === 'radio' || mine.type === 'checkbox') {
        theirs.checked = mine.checked;
      } else {
        theirs.value = mine.value;
      }
    }
  }

  function swap(asked) {
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
        // The person may have started working while the page was fetched.
        if (!asked && working()) {
          offerChanges();
          return;
        }
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
        var current = main();
        if (!fresh || !current) {
          return;
        }
        fresh = document.adoptNode(fresh);
        keepDrafts(current, fresh);
        var line = document.createElement('p');
        line.className = 'notice';
        line.textContent = 'Updated with changes from the team at ' +
          new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }) + '.';
        fresh.insertBefore(line, fresh.firstChild);
        current.replaceWith(fresh);
        if (offer) {
          offer.hidden = true;
        }
        document.documentElement.setAttribute('data-updated', String(Date.now()));
        if (asked) {
          fresh.focus();
        }
        say('Updated with changes from the team.');
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
      offerChanges();
      return;
    }
    swap(false);
  }

  function open() {
    if (source === null) {
      var current = main();
      var since = current ? current.getAttribute('data-generation') || '0' : '0';
      source = new EventSource('/events?since=' + encodeURIComponent(since));
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
    }
  });
  window.addEventListener('pagehide', close);
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) {
      open();
    }
  });
  open();
})();
